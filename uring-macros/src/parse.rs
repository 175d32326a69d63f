//! Tokens to [`model`](crate::model): syntax only; meaning is checked later.

use crate::model::{Arg, Const, Entry, List, Opcode, Table, Target};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Expr, Ident, LitStr, Path, Token, Type, Visibility, braced};

impl Parse for Table {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut list = None;
        for attr in input.call(Attribute::parse_inner)? {
            if attr.path().is_ident("list") {
                let parsed: List = attr.parse_args()?;
                if list.replace(parsed).is_some() {
                    return Err(syn::Error::new_spanned(attr, "`list` is given twice"));
                }
            } else {
                return Err(syn::Error::new_spanned(
                    attr,
                    "unknown table attribute; the only one is `#![list(pub const NAME)]`",
                ));
            }
        }
        let mut entries = Vec::new();
        while !input.is_empty() {
            entries.push(input.parse()?);
        }
        Ok(Table { list, entries })
    }
}

impl Parse for List {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let vis = input.parse()?;
        input.parse::<Token![const]>()?;
        let name = input.parse()?;
        Ok(List { vis, name })
    }
}

impl Parse for Entry {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut docs = Vec::new();
        let mut passthrough = Vec::new();
        let mut since = None;
        let mut after_link = None;
        let mut retains_memory = None;
        let mut sqe128 = None;
        for attr in input.call(Attribute::parse_outer)? {
            let path = attr.path();
            if path.is_ident("doc") {
                docs.push(attr);
            } else if path.is_ident("since") {
                let value = &attr.meta.require_name_value()?.value;
                match value {
                    Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => since = Some(s.clone()),
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "expected the kernel version as a string: `#[since = \"5.6\"]`",
                        ));
                    }
                }
            } else if path.is_ident("after_link") {
                attr.meta.require_path_only()?;
                after_link = Some(syn::spanned::Spanned::span(&attr));
            } else if path.is_ident("retains_memory") {
                attr.meta.require_path_only()?;
                retains_memory = Some(syn::spanned::Spanned::span(&attr));
            } else if path.is_ident("sqe128") {
                attr.meta.require_path_only()?;
                sqe128 = Some(syn::spanned::Spanned::span(&attr));
            } else if path.is_ident("cfg") || path.is_ident("deprecated") || path.is_ident("allow")
            {
                passthrough.push(attr);
            } else {
                return Err(syn::Error::new_spanned(
                    attr,
                    "unknown op attribute; expected `since`, `after_link`, `retains_memory`, `sqe128`, `doc`, `cfg`, `deprecated` or `allow`",
                ));
            }
        }
        let vis: Visibility = input.parse()?;
        let unsafety = input.parse()?;
        input.parse::<Token![struct]>()?;
        let name: Ident = input.parse()?;
        let generics = input.parse()?;
        let opcode = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        let content;
        braced!(content in input);
        let mut target = None;
        let mut args = Vec::new();
        let mut consts = Vec::new();
        while !content.is_empty() {
            let attrs = content.call(Attribute::parse_outer)?;
            if content.peek(Token![const]) {
                if let Some(attr) = attrs.first() {
                    return Err(syn::Error::new_spanned(
                        attr,
                        "a constant field takes no attributes",
                    ));
                }
                consts.push(content.parse()?);
            } else if content.peek(Ident) && content.peek2(Token![:]) && is_target(&content) {
                if let Some(attr) = attrs.first() {
                    return Err(syn::Error::new_spanned(
                        attr,
                        "`target` takes no attributes",
                    ));
                }
                let parsed: Target = content.parse()?;
                if target.is_some() {
                    return Err(syn::Error::new_spanned(
                        &parsed.token,
                        "`target` is given twice",
                    ));
                }
                target = Some(parsed);
            } else {
                args.push(parse_arg(&content, attrs)?);
            }
            if content.is_empty() {
                break;
            }
            content.parse::<Token![,]>()?;
        }
        Ok(Entry {
            docs,
            passthrough,
            since,
            after_link,
            retains_memory,
            sqe128,
            vis,
            unsafety,
            name,
            generics,
            opcode,
            target,
            args,
            consts,
        })
    }
}

fn is_target(input: ParseStream<'_>) -> bool {
    input.fork().parse::<Ident>().is_ok_and(|i| i == "target")
}

impl Parse for Opcode {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(syn::LitInt) {
            return Ok(Opcode::Int(input.parse()?));
        }
        let path: Path = input.parse()?;
        match path.get_ident() {
            Some(ident) => Ok(Opcode::Kernel(ident.clone())),
            None => Ok(Opcode::Path(path)),
        }
    }
}

impl Parse for Target {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let token: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        let mut kinds = vec![input.parse::<Ident>()?];
        let mut fixed_field = None;
        loop {
            if input.peek(syn::token::Paren) {
                let inner;
                syn::parenthesized!(inner in input);
                let field: Ident = inner.parse()?;
                if fixed_field.replace(field).is_some() {
                    return Err(input.error("only one field may receive a fixed target"));
                }
            }
            if !input.peek(Token![|]) {
                break;
            }
            input.parse::<Token![|]>()?;
            kinds.push(input.parse()?);
        }
        Ok(Target {
            token,
            kinds,
            fixed_field,
        })
    }
}

impl Parse for Const {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.parse::<Token![const]>()?;
        let combine = input.peek(Token![|]);
        if combine {
            input.parse::<Token![|]>()?;
        }
        let field = input.parse()?;
        input.parse::<Token![=]>()?;
        let value = input.parse()?;
        Ok(Const {
            field,
            value,
            combine,
        })
    }
}

fn parse_arg(input: ParseStream<'_>, attrs: Vec<Attribute>) -> syn::Result<Arg> {
    let mut docs = Vec::new();
    let mut ring_owned = None;
    for attr in attrs {
        if attr.path().is_ident("doc") {
            docs.push(attr);
        } else if attr.path().is_ident("ring_owned") {
            attr.meta.require_path_only()?;
            ring_owned = Some(syn::spanned::Spanned::span(&attr));
        } else {
            return Err(syn::Error::new_spanned(
                attr,
                "unknown argument attribute; expected `doc` or `ring_owned`",
            ));
        }
    }
    let name: Ident = input.parse()?;
    input.parse::<Token![:]>()?;
    let declared: Type = input.parse()?;
    if let Some(word) = select_word(&declared) {
        // `buf: select`: the op always selects a provided buffer.
        let word = word.clone();
        input.parse::<Token![=>]>()?;
        let (fields, combine) = parse_fields(input)?;
        return Ok(Arg {
            docs,
            ring_owned,
            name,
            ty: syn::parse_quote!(::uring::BufferGroup),
            into: false,
            select: Some(word),
            select_only: true,
            default: None,
            fields,
            combine,
        });
    }
    let (ty, into) = match into_inner(&declared)? {
        Some(inner) => (inner, true),
        None => (declared, false),
    };
    let select = if input.peek(Token![|]) {
        input.parse::<Token![|]>()?;
        let word: Ident = input.parse()?;
        if word != "select" {
            return Err(syn::Error::new_spanned(
                word,
                "expected `select` after `|`: `buf: &'a mut [u8] | select => addr + len`",
            ));
        }
        Some(word)
    } else {
        None
    };
    let default = if input.peek(Token![=]) && !input.peek(Token![=>]) {
        input.parse::<Token![=]>()?;
        Some(input.parse::<Expr>()?)
    } else {
        None
    };
    input.parse::<Token![=>]>()?;
    let (fields, combine) = parse_fields(input)?;
    Ok(Arg {
        docs,
        ring_owned,
        name,
        ty,
        into,
        select,
        select_only: false,
        default,
        fields,
        combine,
    })
}

/// `field (+ field)*`, each optionally `|field` (or-ed with other writes).
fn parse_fields(input: ParseStream<'_>) -> syn::Result<(Vec<Ident>, Vec<bool>)> {
    let mut fields = Vec::new();
    let mut combine = Vec::new();
    loop {
        let or = input.peek(Token![|]);
        if or {
            input.parse::<Token![|]>()?;
        }
        fields.push(input.parse::<Ident>()?);
        combine.push(or);
        if !input.peek(Token![+]) {
            return Ok((fields, combine));
        }
        input.parse::<Token![+]>()?;
    }
}

/// The type `select` (a bare word) marks an argument that only a
/// provided-buffer group can fill.
fn select_word(ty: &Type) -> Option<&Ident> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.get_ident().filter(|i| *i == "select"),
        _ => None,
    }
}

/// `impl Into<X>` → `Some(X)`; any other `impl ..` is an error.
fn into_inner(ty: &Type) -> syn::Result<Option<Type>> {
    let Type::ImplTrait(imp) = ty else {
        return Ok(None);
    };
    let bad = || {
        syn::Error::new_spanned(
            ty,
            "the only `impl` argument type is `impl Into<T>`; the op stores a `T`",
        )
    };
    if imp.bounds.len() != 1 {
        return Err(bad());
    }
    let syn::TypeParamBound::Trait(bound) = &imp.bounds[0] else {
        return Err(bad());
    };
    let last = bound.path.segments.last().ok_or_else(bad)?;
    if last.ident != "Into" {
        return Err(bad());
    }
    let syn::PathArguments::AngleBracketed(generic) = &last.arguments else {
        return Err(bad());
    };
    match generic.args.first() {
        Some(syn::GenericArgument::Type(inner)) if generic.args.len() == 1 => {
            Ok(Some(inner.clone()))
        }
        _ => Err(bad()),
    }
}

/// Parses the `#[since = ".."]` string into `major.minor` for validation.
pub(crate) fn parse_version(lit: &LitStr) -> Option<(u32, u32)> {
    let value = lit.value();
    let (major, minor) = value.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}
