//! Alert rules: evaluation, validation and storage, agreement with the index,
//! delivery to a real Alertmanager.

mod alertmanager;
mod eval;
mod index;
mod novelty;
mod rules;
