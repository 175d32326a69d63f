// The buffer given to `push_owned` is lent to its closure only, to build
// the op over it: it cannot be kept, since the scope hands the buffer back
// with the op's completion. Take it from the completion
// (`cqe.take_buf()`) instead.
use uring::Ring;

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let mut kept: Option<&mut [u8]> = None;
    ring.scope(|s| {
        let _ = s.push_owned(vec![0; 8], |buf, _sq| kept = Some(buf));
    });
    drop(kept);
}
