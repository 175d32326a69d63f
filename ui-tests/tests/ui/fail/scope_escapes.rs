// The scope cannot outlive the closure: it waits for its ops when it ends.
use uring::Ring;

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut kept = None;
    ring.scope(|s| {
        kept = Some(s);
    });
}
