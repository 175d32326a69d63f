// An op declared in the user's own table carries the library's `common`
// field (user_data, flags, personality), whose parts are private: raw flag
// bits (a link to whatever is pushed next, a fixed file, a buffer
// selection) cannot be written into it; `.flags(..)` takes `SqeFlags`.
uring::ops! {
    /// A NOP.
    #[since = "5.1"]
    unsafe struct PlainNop = NOP {}
}

fn main() {
    let mut op = PlainNop::new();
    op.common.flags = 0x2d;
}
