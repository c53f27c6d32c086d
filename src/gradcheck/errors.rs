//! The errors `gradc gradcheck` raises, one constructor each.

use crate::diag::Diag;

/// Some gradient disagrees with finite differences.
pub const FAILED: &str = "gradc::gradcheck::failed";

/// The parameters in `failed` (of `total` checked) have gradients that disagree with finite
/// differences.
pub fn failed(failed: &[&str], total: usize) -> Diag {
    let list = failed.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
    Diag::new(FAILED, format!("{} of {total} gradients disagree with finite differences: {list}", failed.len())).help(
        "a wrong gradient is a bug of gradc's differentiation; a point where the loss has a kink \
         (relu at exactly 0, a tie in max) also disagrees: check from other weights with --init",
    )
}
