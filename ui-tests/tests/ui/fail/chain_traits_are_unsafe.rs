// The traits that place ops in chains are `unsafe`: no safe impl can let a
// link timeout follow a link timeout, start a chain, or be pushed alone.
use std::time::Duration;
use uring::op::AcceptsLinkTimeout;
use uring::ops::LinkTimeout;
use uring::Timespec;

struct Later;

impl From<Later> for Timespec {
    fn from(_: Later) -> Timespec {
        Duration::from_millis(50).into()
    }
}

impl AcceptsLinkTimeout<Later> for LinkTimeout {}

fn main() {}
