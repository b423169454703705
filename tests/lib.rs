//! Shared helpers for soar's end-to-end tests live in the test files; this crate only hosts them.
