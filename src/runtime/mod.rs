//! The data side of the runtime: a reproducible RNG, parameter initializers, synthetic and CSV
//! datasets with mini-batching, and training logs.

pub mod batch;
pub mod checkpoint;
pub mod compare;
pub mod init;
pub mod log;
pub mod plot;
pub mod train;
