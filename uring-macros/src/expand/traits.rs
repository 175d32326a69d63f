//! The marker traits of an op: what it may be pushed to, chained with,
//! lent to a scope, and pushed safely.

use crate::validate::{Checked, TargetKind};
use proc_macro2::TokenStream;
use quote::quote;

/// The trait impls that say where an op may go: `Submission` (or
/// `AfterLink`), the chain traits, `FitsSqe`, `Scoped` and `Unborrowed`.
pub(super) fn expand_op_traits(
    c: &Checked<'_>,
    bounds: &TokenStream,
    args: &TokenStream,
    attrs: &TokenStream,
) -> TokenStream {
    let entry = c.entry;
    let name = &entry.name;
    let lifetimes: Vec<_> = entry.generics.lifetimes().collect();
    // SAFETY (of the generated impl): the entry is `unsafe`, vouching that
    // the kernel is done with the op's memory at its last completion unless
    // it says `#[retains_memory]`.
    let scoped = if entry.retains_memory.is_none() {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::Scoped for #name<#args> {}
        }
    } else {
        quote!()
    };
    // An op with no lifetime and no target names nothing the kernel could
    // use after the push: the safe `Ring::push` takes it.
    // An op that takes ownership of its descriptor (CLOSE) borrows nothing
    // either when it is given one.
    let unborrowed = if lifetimes.is_empty() && c.target == TargetKind::None {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::Unborrowed for #name<#args> {}
        }
    } else if lifetimes.is_empty() && c.owned && c.select.is_none() {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl ::uring::op::Unborrowed for #name<::uring::Fd<'static>> {}
        }
    } else {
        quote!()
    };
    // An op fits both SQE sizes, unless it fills a 128-byte SQE.
    let fits = if entry.sqe128.is_some() {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::FitsSqe<::uring::Sqe128> for #name<#args> {}
        }
    } else {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds __S: ::uring::SqeSize> ::uring::op::FitsSqe<__S> for #name<#args> {}
        }
    };
    let submission = if entry.sqe128.is_some() {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::Submission<::uring::Sqe128> for #name<#args> {}
        }
    } else {
        quote! {
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds __S: ::uring::SqeSize> ::uring::op::Submission<__S> for #name<#args> {}
        }
    };
    if c.entry.after_link.is_some() {
        quote! {
            #attrs
            unsafe impl<#bounds> ::uring::op::AfterLink for #name<#args> {}
            #fits
            #scoped
            #unborrowed
        }
    } else {
        quote! {
            #submission
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds> ::uring::op::ChainNext for #name<#args> {}
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds __N> ::uring::op::ChainStart<__N> for #name<#args> {}
            #attrs
            #[diagnostic::do_not_recommend]
            unsafe impl<#bounds __D> ::uring::op::AcceptsLinkTimeout<__D> for #name<#args> {}
            #fits
            #scoped
            #unborrowed
        }
    }
}
