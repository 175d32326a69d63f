// Each link timeout bounds one op: a second one in a row has nothing to bound.
use std::time::Duration;
use uring::ops::Nop;

fn main() {
    let _chain = Nop::new()
        .timeout(Duration::from_millis(5))
        .timeout(Duration::from_millis(10));
}
