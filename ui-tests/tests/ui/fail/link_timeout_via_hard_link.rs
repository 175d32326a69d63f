// A link timeout is not an op to link after another, softly or hardly: it
// bounds the op before it. Append it with `.timeout(..)` or
// `.link_timeout(..)`.
use std::time::Duration;
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = Nop::new().hard_link(LinkTimeout::new(Duration::from_millis(5)));
}
