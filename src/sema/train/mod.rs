//! The train block, the compare block and `data` declarations: compile-time values only,
//! checked key by key.
//!
//! - `keys`: the train block's keys and the checks across them;
//! - `hyper`: optimizer and schedule uses, their hyper-parameters and range rules;
//! - `controls`: clipping, early stopping, convergence, reduce-on-plateau and parameter groups;
//! - `data`: `data` declarations (generators, CSV, `standardize`, `split`);
//! - `compare`: the compare block's runs;
//! - `value`: compile-time values and the small readers the others share.

mod compare;
mod controls;
mod data;
mod hyper;
mod keys;
#[cfg(test)]
mod tests;
mod value;

pub(super) use compare::compare;
pub use compare::Variant;
pub(super) use data::{data_spec, held_out_spec};
pub(super) use hyper::check_hyper;
pub use hyper::{Partial, Sched};
pub(super) use keys::check;
