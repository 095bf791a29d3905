//! Parsing and validating an API definition.

use std::collections::HashMap;

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{braced, parenthesized, Attribute, Expr, Ident, LitStr, Token, Type, Visibility};

pub struct ApiDef {
    pub docs: Vec<Attribute>,
    pub vis: Visibility,
    pub name: Ident,
    pub wire_name: Option<LitStr>,
    pub props: Vec<PropDef>,
    pub signals: Vec<MethodDef>,
    pub slots: Vec<MethodDef>,
    pub children: Vec<ChildDef>,
    /// Imported from a `.rep` file: the file's full path and the class's name, so the API
    /// carries the file (for repc's signature and Qt's exact types).
    pub rep: Option<(LitStr, LitStr)>,
    /// Enums declared inside the API (`enum Mode { Off, On = 3 }`): Rust enums whose keys
    /// travel to Qt nodes as the values given (Qt's `ENUM`).
    pub enums: Vec<EnumDef>,
}

/// `enum Name { Key, Key = value, … }` inside an API.
pub struct EnumDef {
    pub docs: Vec<Attribute>,
    pub name: Ident,
    /// Each key with its docs and its Qt value (counted on from the previous one, as in C++).
    pub keys: Vec<(Vec<Attribute>, Ident, i64)>,
}

/// A sub-object: a member that holds another API's source (Qt's `CLASS`).
pub struct ChildDef {
    pub docs: Vec<Attribute>,
    pub name: Ident,
    /// The child's API (a type `remote_object!` defined).
    pub api: syn::Path,
    /// Declared `Option<Api>`: the source may hold none.
    pub optional: bool,
    /// A model member (`model playlist: ListModel<Track>`): its row type.
    pub model: Option<Type>,
    /// Which model it is (a list unless `model` is given).
    pub form: ModelForm,
}

/// The form of a model member, by the type it is declared with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum ModelForm {
    /// `ListModel<Row>`.
    List,
    /// `TableModel<Row>`: a list shown as a table.
    Table,
    /// `TreeModel<Row>`: rows with children.
    Tree,
}

impl ModelForm {
    /// The word the signature writes for it.
    pub fn keyword(self) -> &'static str {
        match self {
            ModelForm::List => "model",
            ModelForm::Table => "table",
            ModelForm::Tree => "tree",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    ReadOnly,
    ReadWrite,
    Constant,
}

impl Access {
    pub fn flag(self) -> &'static str {
        match self {
            Access::ReadOnly => "read_only",
            Access::ReadWrite => "read_write",
            Access::Constant => "constant",
        }
    }
}

pub struct PropDef {
    pub docs: Vec<Attribute>,
    pub name: Ident,
    pub ty: Type,
    pub default: Option<Expr>,
    pub access: Access,
    /// Saved by a node's persisted store and restored on the next acquire.
    pub persisted: bool,
    /// A replica's write goes to the source actor, which applies, adjusts or refuses it.
    pub checked: bool,
    /// Qt's `READPUSH`: replicas get a `push_<name>` slot that sets it.
    pub push: bool,
}

#[derive(Clone)]
pub struct Arg {
    pub name: Ident,
    pub ty: Type,
}

/// A signal or a slot.
#[derive(Clone)]
pub struct MethodDef {
    pub docs: Vec<Attribute>,
    pub name: Ident,
    pub args: Vec<Arg>,
    pub ret: Option<Type>,
}

impl Parse for ApiDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let docs = doc_attrs(input)?;
        let vis: Visibility = input.parse()?;
        let name: Ident = input.parse()?;
        let wire_name = if input.peek(Token![as]) {
            input.parse::<Token![as]>()?;
            let lit: LitStr = input.parse()?;
            if lit.value().is_empty() {
                return Err(syn::Error::new(
                    lit.span(),
                    "the wire name must not be empty",
                ));
            }
            Some(lit)
        } else {
            None
        };
        let body;
        braced!(body in input);
        let mut def = ApiDef {
            docs,
            vis,
            name,
            wire_name,
            props: Vec::new(),
            signals: Vec::new(),
            slots: Vec::new(),
            children: Vec::new(),
            rep: None,
            enums: Vec::new(),
        };
        while !body.is_empty() {
            let docs = doc_attrs(&body)?;
            if body.peek(Token![enum]) {
                def.enums.push(parse_enum(&body, docs)?);
                if body.peek(Token![;]) {
                    body.parse::<Token![;]>()?;
                }
                continue;
            }
            let keyword: Ident = body.parse()?;
            match keyword.to_string().as_str() {
                "prop" => def.props.push(parse_prop(&body, docs)?),
                "signal" => {
                    let signal = parse_method(&body, docs, false)?;
                    def.signals.push(signal);
                }
                "slot" => def.slots.push(parse_method(&body, docs, true)?),
                "child" => def.children.push(parse_child(&body, docs)?),
                "model" => def.children.push(parse_model(&body, docs)?),
                _ => {
                    return Err(syn::Error::new(
                        keyword.span(),
                        "expected `prop`, `signal`, `slot`, `child`, `model` or `enum`",
                    ))
                }
            }
            body.parse::<Token![;]>()?;
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the API definition"));
        }
        Ok(def)
    }
}

/// Only doc comments are accepted on the API and its members: they are carried onto the
/// generated items. Anything else would be silently dropped, so it is an error.
fn doc_attrs(input: ParseStream) -> syn::Result<Vec<Attribute>> {
    let attrs = input.call(Attribute::parse_outer)?;
    for attr in &attrs {
        if !attr.path().is_ident("doc") {
            return Err(syn::Error::new_spanned(
                attr,
                "only doc comments are allowed here",
            ));
        }
    }
    Ok(attrs)
}

fn parse_enum(input: ParseStream, docs: Vec<Attribute>) -> syn::Result<EnumDef> {
    input.parse::<Token![enum]>()?;
    let name: Ident = input.parse()?;
    let body;
    braced!(body in input);
    let mut keys = Vec::new();
    let mut next = 0i64;
    while !body.is_empty() {
        let key_docs = doc_attrs(&body)?;
        let key: Ident = body.parse()?;
        let value = if body.peek(Token![=]) {
            body.parse::<Token![=]>()?;
            let negative = body.peek(Token![-]);
            if negative {
                body.parse::<Token![-]>()?;
            }
            let literal: syn::LitInt = body.parse()?;
            let value: i64 = literal.base10_parse()?;
            if negative {
                -value
            } else {
                value
            }
        } else {
            next
        };
        if i32::try_from(value).is_err() {
            return Err(syn::Error::new(
                key.span(),
                "an enum value must fit in 32 bits (Qt's int)",
            ));
        }
        next = value + 1;
        keys.push((key_docs, key, value));
        if body.is_empty() {
            break;
        }
        body.parse::<Token![,]>()?;
    }
    if keys.is_empty() {
        return Err(syn::Error::new(
            name.span(),
            "an enum needs at least one key",
        ));
    }
    Ok(EnumDef { docs, name, keys })
}

fn parse_prop(input: ParseStream, docs: Vec<Attribute>) -> syn::Result<PropDef> {
    let name: Ident = input.parse()?;
    input.parse::<Token![:]>()?;
    let ty: Type = input.parse()?;
    let default = if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Some(input.parse::<Expr>()?)
    } else {
        None
    };
    let mut access: Option<(Access, Span)> = None;
    let mut persisted = false;
    let mut checked: Option<Span> = None;
    let mut push: Option<Span> = None;
    while input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
        let flag: Ident = input.parse()?;
        let parsed = match flag.to_string().as_str() {
            "read_only" => Access::ReadOnly,
            "read_write" => Access::ReadWrite,
            "constant" => Access::Constant,
            "persisted" => {
                if persisted {
                    return Err(syn::Error::new(flag.span(), "`persisted` is given twice"));
                }
                persisted = true;
                continue;
            }
            "checked" => {
                if checked.is_some() {
                    return Err(syn::Error::new(flag.span(), "`checked` is given twice"));
                }
                checked = Some(flag.span());
                continue;
            }
            "push" => {
                if push.is_some() {
                    return Err(syn::Error::new(flag.span(), "`push` is given twice"));
                }
                push = Some(flag.span());
                continue;
            }
            other => {
                return Err(syn::Error::new(
                    flag.span(),
                    format!(
                        "unknown property flag `{other}`: expected `read_only`, `read_write`, `constant`, `persisted`, `checked` or `push`"
                    ),
                ))
            }
        };
        if access.is_some() {
            return Err(syn::Error::new(
                flag.span(),
                "a property takes one access flag",
            ));
        }
        access = Some((parsed, flag.span()));
    }
    let access = access.map_or(Access::ReadOnly, |(a, _)| a);
    if let (Some(span), Access::Constant) = (push, access) {
        return Err(syn::Error::new(
            span,
            "`push` is for properties replicas may change: a constant one never changes",
        ));
    }
    if let (Some(span), false) = (checked, access == Access::ReadWrite || push.is_some()) {
        return Err(syn::Error::new(
            span,
            "`checked` is for `read_write` or `push` properties: only those can be written by replicas",
        ));
    }
    Ok(PropDef {
        docs,
        name,
        ty,
        default,
        access,
        persisted,
        checked: checked.is_some(),
        push: push.is_some(),
    })
}

/// `child tray: Tray` or `child tray: Option<Tray>`.
fn parse_child(input: ParseStream, docs: Vec<Attribute>) -> syn::Result<ChildDef> {
    let name: Ident = input.parse()?;
    input.parse::<Token![:]>()?;
    let ty: syn::TypePath = input.parse()?;
    let not_an_api = || {
        syn::Error::new_spanned(
            &ty,
            "a child is an API defined with `remote_object!`, or `Option` of one",
        )
    };
    if ty.qself.is_some() {
        return Err(not_an_api());
    }
    let last = ty.path.segments.last().ok_or_else(not_an_api)?;
    let (api, optional) = match &last.arguments {
        syn::PathArguments::None => (ty.path.clone(), false),
        syn::PathArguments::AngleBracketed(args) if last.ident == "Option" => {
            match args.args.iter().collect::<Vec<_>>().as_slice() {
                [syn::GenericArgument::Type(Type::Path(inner))] if inner.qself.is_none() => {
                    (inner.path.clone(), true)
                }
                _ => return Err(not_an_api()),
            }
        }
        _ => return Err(not_an_api()),
    };
    Ok(ChildDef {
        docs,
        name,
        api,
        optional,
        model: None,
        form: ModelForm::List,
    })
}

/// `model playlist: ListModel<Track>`.
fn parse_model(input: ParseStream, docs: Vec<Attribute>) -> syn::Result<ChildDef> {
    let name: Ident = input.parse()?;
    input.parse::<Token![:]>()?;
    let ty: syn::TypePath = input.parse()?;
    let not_a_model = || {
        syn::Error::new_spanned(
            &ty,
            "a model is a `ListModel<Row>`, a `TableModel<Row>` or a `TreeModel<Row>`, `Row` a serde type",
        )
    };
    let last = ty.path.segments.last().ok_or_else(not_a_model)?;
    let form = match last.ident.to_string().as_str() {
        "ListModel" => ModelForm::List,
        "TableModel" => ModelForm::Table,
        "TreeModel" => ModelForm::Tree,
        _ => return Err(not_a_model()),
    };
    let row = match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => {
            match args.args.iter().collect::<Vec<_>>().as_slice() {
                [syn::GenericArgument::Type(row)] => row.clone(),
                _ => return Err(not_a_model()),
            }
        }
        _ => return Err(not_a_model()),
    };
    if ty.qself.is_some() {
        return Err(not_a_model());
    }
    Ok(ChildDef {
        docs,
        name,
        api: ty.path.clone(),
        optional: false,
        model: Some(row),
        form,
    })
}

fn parse_method(
    input: ParseStream,
    docs: Vec<Attribute>,
    may_return: bool,
) -> syn::Result<MethodDef> {
    let name: Ident = input.parse()?;
    let content;
    parenthesized!(content in input);
    let args = Punctuated::<Arg, Token![,]>::parse_terminated(&content)?
        .into_iter()
        .collect();
    let ret = if input.peek(Token![->]) {
        let arrow = input.parse::<Token![->]>()?;
        if !may_return {
            return Err(syn::Error::new(
                arrow.spans[0],
                "signals do not return values",
            ));
        }
        Some(input.parse::<Type>()?)
    } else {
        None
    };
    Ok(MethodDef {
        docs,
        name,
        args,
        ret,
    })
}

impl Parse for Arg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>()?;
        Ok(Arg {
            name,
            ty: input.parse()?,
        })
    }
}

/// Names the generated code reserves in the API's module.
const RESERVED: &[&str] = &[
    "Properties",
    "PropertyChange",
    "Signal",
    "SimpleSource",
    "ReplicaExt",
];

/// Methods of `Replica` and of the generated `SimpleSource`: a property getter of the same
/// name would be shadowed or clash, so such property names are refused.
const RESERVED_PROPERTIES: &[&str] = &[
    "addr",
    "call",
    "child",
    "child_model",
    "events",
    "new",
    "properties",
    "property",
    "property_changes",
    "signals",
    "source_name",
    "state",
    "state_changes",
    "subscribe",
    "subscribe_properties",
    "subscribe_signals",
    "subscribe_state",
    "subscriber_count",
    "wait_for_source",
    "with_properties",
];

impl ApiDef {
    /// Rejects definitions that would generate clashing or invalid items, pointing at the
    /// offending name.
    pub fn validate(&self) -> syn::Result<()> {
        let mut members: HashMap<String, &Ident> = HashMap::new();
        let mut types: HashMap<String, &Ident> = HashMap::new();
        let all = self
            .props
            .iter()
            .map(|p| &p.name)
            .chain(self.signals.iter().chain(&self.slots).map(|m| &m.name))
            .chain(self.children.iter().map(|c| &c.name));
        let pushes: Vec<Ident> = self
            .props
            .iter()
            .filter(|p| p.push)
            .map(|p| Ident::new(&format!("push_{}", p.name), p.name.span()))
            .collect();
        for name in all.chain(&pushes) {
            if let Some(first) = members.insert(name.to_string(), name) {
                let mut error =
                    syn::Error::new(name.span(), format!("duplicate member name `{name}`"));
                error.combine(syn::Error::new(first.span(), "first defined here"));
                return Err(error);
            }
        }
        let getters = self
            .props
            .iter()
            .map(|p| &p.name)
            .chain(self.children.iter().map(|c| &c.name));
        for name in getters {
            if RESERVED_PROPERTIES.contains(&name.to_string().as_str()) {
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "`{name}` is a method of replicas and sources: choose another member name"
                    ),
                ));
            }
        }
        for name in self
            .signals
            .iter()
            .chain(&self.slots)
            .map(|m| &m.name)
            .chain(&pushes)
        {
            let camel = camel_case(&name.to_string());
            if RESERVED.contains(&camel.as_str()) {
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "`{name}` would generate `{camel}`, a name the generated code reserves"
                    ),
                ));
            }
            if types.insert(camel.clone(), name).is_some() {
                return Err(syn::Error::new(
                    name.span(),
                    format!("`{name}` generates the type `{camel}`, like another member"),
                ));
            }
        }
        for method in self.signals.iter().chain(&self.slots) {
            let mut args: HashMap<String, ()> = HashMap::new();
            for arg in &method.args {
                if args.insert(arg.name.to_string(), ()).is_some() {
                    return Err(syn::Error::new(
                        arg.name.span(),
                        format!("duplicate argument name `{}`", arg.name),
                    ));
                }
            }
        }
        if self.props.len() > usize::from(u16::MAX)
            || self.signals.len() > usize::from(u16::MAX)
            || self.slots.len() > usize::from(u16::MAX)
            || self.children.len() > usize::from(u16::MAX)
        {
            return Err(syn::Error::new(self.name.span(), "too many members"));
        }
        Ok(())
    }

    pub fn wire_name(&self) -> String {
        self.wire_name
            .as_ref()
            .map_or_else(|| self.name.to_string(), LitStr::value)
    }
}

/// `paper_jam` → `PaperJam`.
pub fn camel_case(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = true;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `GpsSource` → `gps_source`.
pub fn snake_case(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 4);
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
