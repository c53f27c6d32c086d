//! gradc: a compiler for `.grad` files, which declare networks, losses, optimizers and
//! schedules, differentiate them symbolically and JIT-compile the training step with Cranelift.

// Adding an op makes the compiler list every match that must learn it.
#[deny(clippy::wildcard_enum_match_arm)]
pub mod autodiff;
pub mod cli;
#[deny(clippy::wildcard_enum_match_arm)]
pub mod codegen;
pub mod collective;
pub mod data;
pub mod diag;
pub mod driver;
#[deny(clippy::wildcard_enum_match_arm)]
pub mod export;
pub mod files;
pub mod gradcheck;
#[deny(clippy::wildcard_enum_match_arm)]
pub mod gradmath;
#[deny(clippy::wildcard_enum_match_arm)]
pub mod ir;
pub mod output;
#[deny(clippy::wildcard_enum_match_arm)]
pub mod passes;
pub mod rng;
pub mod runtime;
pub mod sema;
pub mod snapshot;
pub mod spec;
pub mod syntax;
