// Every op names its opcode.
uring::ops! {
    /// Does nothing.
    #[since = "5.1"]
    pub unsafe struct MyNop {}
}

fn main() {}
