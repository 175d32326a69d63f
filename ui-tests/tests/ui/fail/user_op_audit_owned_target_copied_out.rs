// The module that declares an op reaches the fields of its struct. The
// target of an op that owns its descriptor is kept out of reach all the
// same: copied out, it would be a `'static` handle to a number the kernel
// closes and hands to the next file opened.
uring::ops! {
    /// Closes a file it owns.
    #[since = "5.6"]
    unsafe struct CloseOwned = CLOSE {
        target: owned,
    }
}

fn main() {
    let op = CloseOwned::new(std::fs::File::open("/dev/null").unwrap());
    let kept: uring::Fd<'static> = op.target;
    let _ = kept;
}
