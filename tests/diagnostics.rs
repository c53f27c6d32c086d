//! Rendered diagnostics (no colour, fixed width) for every fixture in tests/fixtures/err.

use std::path::Path;

use gradc::driver;

/// Compiles a fixture and renders its error, with the path relative to the repository.
fn diagnose(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rel = path.strip_prefix(root).expect("fixture inside the repository");
    // Run from the root so the relative path resolves and is what the report shows.
    std::env::set_current_dir(root).expect("cd to the repository");
    let mut front = match driver::parse(rel) {
        Ok(front) => front,
        Err((d, sources)) => return d.with_sources(&sources).render_plain(),
    };
    // As `gradc check`: the train block's run and every compare run.
    match driver::check(&mut front) {
        Ok(_) => panic!("{} compiled without errors", rel.display()),
        Err(d) => d.with_sources(&front.sources).render_plain(),
    }
}

#[test]
fn user_errors_render_as_diagnostics() {
    insta::glob!("fixtures/err/*.grad", |path| {
        let source = std::fs::read_to_string(path).expect("read fixture");
        insta::assert_snapshot!(format!("{source}\n----\n{}", diagnose(path)));
    });
}

/// Rendered warnings for every fixture in tests/fixtures/warn: each compiles, with warnings.
#[test]
fn warnings_render_and_do_not_stop_compilation() {
    insta::glob!("fixtures/warn/*.grad", |path| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let rel = path.strip_prefix(root).expect("fixture inside the repository");
        std::env::set_current_dir(root).expect("cd to the repository");
        let source = std::fs::read_to_string(path).expect("read fixture");
        let mut front = driver::parse(rel).unwrap_or_else(|(d, s)| panic!("{}", d.with_sources(&s).render_plain()));
        let compiled =
            driver::check(&mut front).unwrap_or_else(|d| panic!("{}", d.with_sources(&front.sources).render_plain()));
        let warnings = &compiled.lowered.warnings;
        assert!(!warnings.is_empty(), "{} compiled without warnings", rel.display());
        assert!(warnings.iter().all(|w| w.warning));
        let rendered: String = warnings.iter().map(|w| w.clone().with_sources(&front.sources).render_plain()).collect();
        insta::assert_snapshot!(format!("{source}\n----\n{rendered}"));
    });
}
