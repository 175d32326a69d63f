// A link timeout bounds the op before it: pushed alone over an owned
// buffer, it would bound nothing.
use std::time::Duration;
use uring::{Ring, ops::LinkTimeout};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let _ = s.push_owned(vec![0; 8], |_buf, sq| {
            sq.push(LinkTimeout::new(Duration::from_millis(1)));
        });
    });
}
