// A chain linked as a whole still ends with what it ends with.
use std::time::Duration;
use uring::ops::Nop;

fn main() {
    let _chain = Nop::new()
        .link(Nop::new().timeout(Duration::from_millis(5)))
        .timeout(Duration::from_millis(10));
}
