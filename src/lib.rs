//! gradc: a compiler for `.grad` files, which declare networks, losses, optimizers and
//! schedules, differentiate them symbolically and JIT-compile the training step with Cranelift.

pub mod autodiff;
pub mod codegen;
pub mod data;
pub mod diag;
pub mod driver;
pub mod ir;
pub mod passes;
pub mod rng;
pub mod runtime;
pub mod sema;
pub mod spec;
pub mod syntax;
