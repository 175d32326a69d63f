// SqeSize is sealed: a program cannot declare an SQE size the kernel lacks.
use uring::SqeSize;

#[derive(Clone, Copy)]
struct Sqe256;

impl SqeSize for Sqe256 {}

fn main() {}
