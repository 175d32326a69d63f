// Every op says which kernel added it.
uring::ops! {
    /// Does nothing.
    pub unsafe struct MyNop = NOP {}
}

fn main() {}
