//! The collector: the kubelet layout on real inotify, and `lookoutd --stdout` as a
//! real process.

mod contain;
mod fds;
mod kubelet;
mod multiline;
mod stdout;
