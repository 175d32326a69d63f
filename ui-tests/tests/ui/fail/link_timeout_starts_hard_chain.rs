// Nor of a hard-linked one.
use std::time::Duration;
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = LinkTimeout::new(Duration::from_millis(5)).hard_link(Nop::new());
}
