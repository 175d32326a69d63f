// A link timeout cannot itself be bounded by a link timeout.
use std::time::Duration;
use uring::ops::LinkTimeout;

fn main() {
    let _chain = LinkTimeout::new(Duration::from_millis(5)).timeout(Duration::from_millis(10));
}
