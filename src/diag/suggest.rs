//! "Did you mean" suggestions: the known name a misspelt one most likely meant.
//!
//! Names are compared without regard to case, so `Adam` finds `adam`, and by Damerau-Levenshtein
//! distance, so a swapped pair of letters (`adma`) is one edit, as a missing letter (`adm`) is.

/// The candidate `name` most likely meant, if any is close enough to be a typo of it.
///
/// A candidate equal to `name` but for case wins; otherwise the nearest within one edit per
/// three characters of `name` (at least one, but fewer than its length, so that one letter is
/// not "corrected" into another), the alphabetically first among equals.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_lowercase();
    let len = lower.chars().count();
    let limit = (len / 3).max(1).min(len.saturating_sub(1));
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|&(distance, _)| distance <= limit)
        .min()
        .map(|(_, c)| c)
}

/// The help line for an unknown `name`: "did you mean `x`?" when a candidate is close, else
/// `otherwise`.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>, otherwise: String) -> String {
    match closest(name, candidates) {
        Some(c) => format!("did you mean `{c}`?"),
        None => otherwise,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPTIMIZERS: [&str; 6] = ["adagrad", "adam", "adamw", "nadam", "rmsprop", "sgd"];

    #[test]
    fn case_is_ignored() {
        assert_eq!(closest("Adam", OPTIMIZERS), Some("adam"));
        assert_eq!(closest("SGD", OPTIMIZERS), Some("sgd"));
        assert_eq!(closest("AdamW", OPTIMIZERS), Some("adamw"));
    }

    #[test]
    fn one_edit_finds_the_name() {
        assert_eq!(closest("adm", OPTIMIZERS), Some("adam"));
        assert_eq!(closest("Adm", OPTIMIZERS), Some("adam"));
        assert_eq!(closest("adma", OPTIMIZERS), Some("adam"), "a transposition is one edit");
        assert_eq!(closest("rmsprp", OPTIMIZERS), Some("rmsprop"));
    }

    #[test]
    fn far_names_suggest_nothing() {
        assert_eq!(closest("lion", OPTIMIZERS), None);
        assert_eq!(closest("batchsize", ["batch", "epochs", "steps"]), None);
        assert_eq!(closest("x", Vec::<&str>::new()), None);
    }

    #[test]
    fn longer_names_allow_more_edits() {
        assert_eq!(closest("thetta", ["theta", "w"]), Some("theta"));
        assert_eq!(closest("lerning_rat", ["learning_rate"]), Some("learning_rate"));
        assert_eq!(closest("ab", ["xy"]), None);
    }

    #[test]
    fn one_letter_is_not_another() {
        assert_eq!(closest("q", ["n", "d"]), None);
        assert_eq!(closest("N", ["n", "d"]), Some("n"));
        assert_eq!(closest("x2", ["x1"]), Some("x1"));
    }

    #[test]
    fn ties_go_to_the_first_in_alphabetical_order() {
        assert_eq!(closest("l3", ["l2", "l1"]), Some("l1"));
    }

    #[test]
    fn the_help_line_falls_back() {
        assert_eq!(did_you_mean("adm", OPTIMIZERS, "no".into()), "did you mean `adam`?");
        assert_eq!(did_you_mean("zzz", OPTIMIZERS, "available: ...".into()), "available: ...");
    }
}
