// The same with a link timeout built by hand.
use std::time::Duration;
use uring::ops::{LinkTimeout, Nop};

fn main() {
    let _chain = Nop::new()
        .timeout(Duration::from_millis(5))
        .link_timeout(LinkTimeout::new(Duration::from_millis(10)).user_data(9));
}
