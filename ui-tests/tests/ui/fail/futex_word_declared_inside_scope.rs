// A futex op names its word by address for as long as it waits: the word
// must outlive the scope, which waits for the op. Declare it before
// `ring.scope(..)`.
use std::sync::atomic::AtomicU32;
use uring::{Ring, ops::FutexWait};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let word = AtomicU32::new(0);
        s.push(FutexWait::new(&word, 0)).unwrap();
    });
}
