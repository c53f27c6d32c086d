//! The errors `gradc grad` raises, one constructor each.

use crate::diag::suggest::did_you_mean;
use crate::diag::Diag;

/// `--param` naming no parameter of the program.
pub const UNKNOWN_PARAM: &str = "gradc::grad::unknown_param";

/// `--param NAME` of a program whose parameters are `params`.
pub fn unknown_param(name: &str, params: &[&str]) -> Diag {
    let list = params.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ");
    let otherwise = format!("the parameters are {list}");
    Diag::new(UNKNOWN_PARAM, format!("the program has no parameter `{name}`")).help(did_you_mean(
        name,
        params.iter().copied(),
        otherwise,
    ))
}
