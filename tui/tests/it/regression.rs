//! One test per bug, each named after the bug it pins down.
