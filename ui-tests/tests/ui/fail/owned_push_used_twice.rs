// `push_owned` lends its buffer to one push (an op or a chain): the scope
// hands the buffer back with the last completion of that push alone, so a
// second push over it would still be in flight. Push one chain over both
// halves instead (`sq.push(a.link(b))`).
use uring::{Ring, ops::Read};

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file = std::fs::File::open("/dev/zero").unwrap();
    ring.scope(|s| {
        let _ = s.push_owned(vec![0; 16], |buf, sq| {
            let (first, second) = buf.split_at_mut(8);
            sq.push(Read::new(&file, first));
            sq.push(Read::new(&file, second));
        });
    });
}
