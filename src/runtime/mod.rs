//! The runtime: runs the executables the driver compiled — initialising parameters, batching the
//! data, stepping, evaluating, stopping, logging, checkpointing and comparing runs, and scoring
//! saved models. It compiles nothing itself and depends on no stage before code generation.

pub mod batch;
mod burst;
pub mod checkpoint;
pub mod compare;
pub mod errors;
pub mod health;
pub mod init;
#[cfg(unix)]
pub mod interrupt;
pub mod log;
pub mod lr_find;
pub mod plan;
pub mod plot;
pub mod runner;
pub mod score;
pub mod stopping;
pub mod train;
