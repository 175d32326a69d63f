//! With the `arbitrary-ops` feature: for each op, the builder that draws
//! every argument (`uring::op::arbitrary::ArbitraryOp`); for a table with a
//! list, the kind of each op and a function that builds the op at an index.

use super::{opcode_expr, since};
use crate::model::{Entry, List};
use crate::validate::{Checked, TargetKind};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::visit_mut::VisitMut;

/// The `ArbitraryOp` impl of one op.
pub(super) fn expand_arbitrary_op(c: &Checked<'_>) -> TokenStream {
    let entry = c.entry;
    let name = &entry.name;
    let name_str = name.to_string();
    let passthrough = &entry.passthrough;
    let code = opcode_expr(entry);
    let since = since(entry);
    let a = quote!(::uring::op::arbitrary);
    let lifetimes: Vec<_> = entry.generics.lifetimes().map(|_| quote!('__r)).collect();

    let Some((kind, visit)) = kind(entry) else {
        return quote! {
            ::core::compile_error!(
                "an op that combines `after_link`, `retains_memory` and `sqe128` cannot \
                 be built from arbitrary arguments (feature `arbitrary-ops`)"
            );
        };
    };
    let site = |arg: &str| quote!(&__site(#arg));
    let unavailable = |arg: &str| quote!(#a::Unavailable { site: __site(#arg) });

    // The target: one value, or a choice of two (`Either`).
    let target_site = site("target");
    let target_missing = unavailable("target");
    let (target_let, target_choice) = match (c.target, c.owned) {
        (TargetKind::None, _) => (quote!(), false),
        (TargetKind::Fd, false) => (
            quote! {
                let __target = #a::Context::fd(__cx, #target_site, __g).ok_or(#target_missing)?;
            },
            false,
        ),
        (TargetKind::Fd, true) => (
            quote! {
                let __target =
                    #a::Context::owned_fd(__cx, #target_site, __g).ok_or(#target_missing)?;
            },
            false,
        ),
        (TargetKind::Fixed, _) => (
            quote! {
                let __target = #a::Context::fixed(__cx, #target_site, __g).ok_or(#target_missing)?;
            },
            false,
        ),
        (_, false) => (
            quote!(let __target = #a::fd_or_fixed(__g, __cx, #target_site)?;),
            true,
        ),
        (_, true) => (
            quote!(let __target = #a::owned_or_fixed(__g, __cx, #target_site)?;),
            true,
        ),
    };

    // The arguments, drawn in the table's order.
    let mut lets = Vec::new();
    let mut new_args = Vec::new();
    let mut setters = Vec::new();
    for (i, arg) in entry.args.iter().enumerate() {
        let arg_name = arg.name.to_string();
        let local = format_ident!("__a_{}", arg.name);
        let mut ty = arg.ty.clone();
        OneLifetime.visit_type_mut(&mut ty);
        let s = site(&arg_name);
        if c.select == Some(i) && !arg.select_only {
            lets.push(quote!(let #local = #a::buffer_or_select::<#ty, __C>(__g, __cx, #s)?;));
            new_args.push(quote!(__b));
        } else if arg.default.is_none() {
            lets.push(quote!(let #local = #a::required::<#ty, __C>(__g, __cx, #s)?;));
            new_args.push(quote!(#local));
        } else {
            let setter = &arg.name;
            lets.push(quote!(let #local = #a::optional::<#ty, __C>(__g, __cx, #s);));
            setters.push(quote! {
                if let ::core::option::Option::Some(__value) = #local {
                    __op = __op.#setter(__value);
                }
            });
        }
    }
    let select_choice = c.select.is_some_and(|i| !entry.args[i].select_only);
    let target_arg = if c.target == TargetKind::None {
        quote!()
    } else {
        quote!(__t,)
    };

    let build = quote! {{
        let mut __op = #name::new(#target_arg #(#new_args),*);
        #(#setters)*
        __op = __op.user_data(__base.user_data).flags(__base.flags);
        if let ::core::option::Option::Some(__p) = __base.personality {
            __op = __op.personality(__p);
        }
        __visit.#visit(__op, &__INFO)
    }};
    let select_local = c
        .select
        .map(|i| format_ident!("__a_{}", entry.args[i].name));
    let with_buffer = if select_choice {
        quote! {
            match #select_local {
                #a::Either::Left(__b) => #build,
                #a::Either::Right(__b) => #build,
            }
        }
    } else {
        build
    };
    let body = if target_choice {
        quote! {
            match __target {
                #a::Either::Left(__t) => #with_buffer,
                #a::Either::Right(__t) => #with_buffer,
            }
        }
    } else if c.target == TargetKind::None {
        with_buffer
    } else {
        quote!({
            let __t = __target;
            #with_buffer
        })
    };

    quote! {
        #(#passthrough)*
        #[doc(hidden)]
        impl<'__r> #a::ArbitraryOp<'__r> for #name<#(#lifetimes),*> {
            const KIND: #a::Kind = #a::Kind::#kind;

            fn arbitrary<__C, __V>(
                __g: &mut #a::Gen,
                __cx: &mut __C,
                __base: #a::Base,
                __visit: __V,
            ) -> ::core::result::Result<__V::Output, #a::Unavailable>
            where
                __C: #a::Context<'__r>,
                __V: #a::Visit<'__r>,
            {
                static __INFO: ::uring::op::OpInfo = ::uring::op::OpInfo {
                    name: #name_str,
                    code: #code,
                    since: #since,
                };
                let __site = |arg: &'static str| #a::Site { op: #name_str, code: #code, arg };
                #a::Context::begin_op(__cx, &__INFO);
                #target_let
                #(#lets)*
                ::core::result::Result::Ok(#body)
            }
        }
    }
}

/// For a list `NAME`: `NAME_KINDS`, the kind of each op in the list's
/// order, and `name_arbitrary`, which builds the op at an index.
pub(super) fn expand_arbitrary_list(list: &List, checked: &[Checked<'_>]) -> TokenStream {
    let a = quote!(::uring::op::arbitrary);
    let vis = &list.vis;
    let kinds_name = format_ident!("{}_KINDS", list.name);
    let fn_name = format_ident!("{}_arbitrary", list.name.to_string().to_lowercase());
    let list_name = &list.name;
    let types: Vec<TokenStream> = checked
        .iter()
        .map(|c| {
            let name = &c.entry.name;
            let lifetimes: Vec<_> = c.entry.generics.lifetimes().map(|_| quote!('__r)).collect();
            quote!(#name<#(#lifetimes),*>)
        })
        .collect();
    let kinds = checked
        .iter()
        .filter_map(|c| kind(c.entry))
        .map(|(k, _)| quote!(#a::Kind::#k));
    let arms = types.iter().enumerate().map(|(i, ty)| {
        quote! {
            #i => ::core::option::Option::Some(
                <#ty as #a::ArbitraryOp<'__r>>::arbitrary(g, cx, base, visit),
            ),
        }
    });
    let kinds_doc = format!("The kind of each op of [`{list_name}`], in its order.");
    let fn_doc = format!(
        "Builds the op at `index` of [`{list_name}`] from arbitrary arguments and hands it to \
         `visit` (`None` past the end of the list)."
    );
    quote! {
        #[doc = #kinds_doc]
        #[doc(hidden)]
        #vis const #kinds_name: &[#a::Kind] = &[#(#kinds),*];

        #[doc = #fn_doc]
        #[doc(hidden)]
        #vis fn #fn_name<'__r, __C, __V>(
            index: usize,
            g: &mut #a::Gen,
            cx: &mut __C,
            base: #a::Base,
            visit: __V,
        ) -> ::core::option::Option<::core::result::Result<__V::Output, #a::Unavailable>>
        where
            __C: #a::Context<'__r>,
            __V: #a::Visit<'__r>,
        {
            match index {
                #(#arms)*
                _ => ::core::option::Option::None,
            }
        }
    }
}

/// The `Kind` of an op, as its attributes say, and the `Visit` method that
/// takes it; `None` for a combination no method takes.
fn kind(entry: &Entry) -> Option<(TokenStream, TokenStream)> {
    match (
        entry.after_link.is_some(),
        entry.retains_memory.is_some(),
        entry.sqe128.is_some(),
    ) {
        (false, false, false) => Some((quote!(Op), quote!(op))),
        (false, true, false) => Some((quote!(Retaining), quote!(retaining))),
        (false, false, true) => Some((quote!(Sqe128), quote!(sqe128))),
        (true, false, false) => Some((quote!(AfterLink), quote!(after_link))),
        _ => None,
    }
}

/// Replaces every named lifetime of a type with `'__r`: the arbitrary op
/// borrows everything from its context for as long.
struct OneLifetime;

impl VisitMut for OneLifetime {
    fn visit_lifetime_mut(&mut self, lifetime: &mut syn::Lifetime) {
        if lifetime.ident != "static" && lifetime.ident != "_" {
            *lifetime = syn::Lifetime::new("'__r", lifetime.span());
        }
    }
}
