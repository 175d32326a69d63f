// Nor may a bare number be closed: whoever owns it would close it again.
use uring::ops::Close;

fn main() {
    let _close = Close::new(3);
}
