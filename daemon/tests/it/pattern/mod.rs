//! Template mining: accuracy on labelled real logs, and the miner's contract
//! (JSON messages, bounds, persisted state, hostile input).

mod accuracy;
mod ingest;
mod miner;
