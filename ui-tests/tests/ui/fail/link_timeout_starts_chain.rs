// A link timeout cannot be the first element of a chain.
use std::time::Duration;
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = LinkTimeout::new(Duration::from_millis(5)).link(Nop::new());
}
