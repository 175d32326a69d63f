//! The project's spec of what it rejects: every file under `ui/fail` is a
//! misuse that must not compile, with the error in the `.stderr` beside it;
//! every file under `ui/pass` is a valid form that must compile and run.
//!
//! After a deliberate change to a message, regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p uring-ui-tests` and review the diff.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
