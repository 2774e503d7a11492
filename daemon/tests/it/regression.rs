//! One test per bug, each named after the bug it pins down, so a failure here says
//! which old defect came back.
