//! Surface syntax: the pest grammar's pairs lowered into the typed AST.

pub mod ast;
