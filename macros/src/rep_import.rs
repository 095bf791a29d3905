//! `remote_object!(rep = "path/to/file.rep")`: the APIs of a Qt `.rep` file, with a Rust
//! type for every `POD` and `ENUM`, each class expanded as an inline definition would be,
//! and the file's text kept so the running API carries repc's exact signature and Qt types.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token, Type, Visibility};

use actix_remote_objects_rep as rep;

use crate::parse::{Access, ApiDef, Arg, ChildDef, MethodDef, PropDef};

/// `rep = "path"`, the path relative to the crate's manifest directory.
pub struct RepImport {
    pub path: LitStr,
}

impl Parse for RepImport {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if key != "rep" {
            return Err(syn::Error::new(key.span(), "expected `rep = \"file.rep\"`"));
        }
        input.parse::<Token![=]>()?;
        let path: LitStr = input.parse()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the .rep file's path"));
        }
        Ok(RepImport { path })
    }
}

/// Whether the macro's input is a `.rep` import rather than an inline definition.
pub fn is_import(input: &TokenStream) -> bool {
    let mut tokens = input.clone().into_iter();
    matches!(
        (tokens.next(), tokens.next()),
        (Some(proc_macro2::TokenTree::Ident(i)), Some(proc_macro2::TokenTree::Punct(p)))
            if i == "rep" && p.as_char() == '='
    )
}

struct Context<'a> {
    file: &'a rep::RepFile,
    shown: String,
    span: Span,
}

impl Context<'_> {
    fn error(&self, line: usize, message: impl std::fmt::Display) -> syn::Error {
        syn::Error::new(self.span, format!("{}:{line}: {message}", self.shown))
    }

    /// The Rust type for a Qt type of the file (QTRO.md's table; README's "Qt types").
    fn rust_type(
        &self,
        qt: &str,
        class: Option<&rep::Class>,
        line: usize,
    ) -> syn::Result<TokenStream> {
        let qt = qt.trim();
        let values = quote!(::actix_remote_objects::qt::values);
        if let Some((head, args)) = template(qt) {
            let args: Vec<TokenStream> = args
                .iter()
                .map(|a| self.rust_type(a, class, line))
                .collect::<syn::Result<_>>()?;
            return match (head, args.as_slice()) {
                ("QList" | "QVector", [item]) => Ok(quote!(::std::vec::Vec<#item>)),
                ("QMap", [k, v]) => Ok(quote!(::std::collections::BTreeMap<#k, #v>)),
                ("QHash", [k, v]) => Ok(quote!(::std::collections::HashMap<#k, #v>)),
                ("QPair" | "std::pair", [a, b]) => Ok(quote!((#a, #b))),
                _ => Err(self.error(line, format!("the type `{qt}` has no Rust counterpart"))),
            };
        }
        let builtin = match qt {
            "bool" => quote!(bool),
            "int" | "qint32" | "int32_t" => quote!(i32),
            "uint" | "quint32" | "unsigned" | "unsigned int" | "uint32_t" => quote!(u32),
            "qint64" | "qlonglong" | "long long" | "int64_t" => quote!(i64),
            "quint64" | "qulonglong" | "unsigned long long" | "uint64_t" => quote!(u64),
            "short" | "qint16" | "int16_t" => quote!(i16),
            "ushort" | "quint16" | "unsigned short" | "uint16_t" => quote!(u16),
            "qint8" | "signed char" | "int8_t" => quote!(i8),
            "uchar" | "quint8" | "unsigned char" | "uint8_t" => quote!(u8),
            "double" | "qreal" => quote!(f64),
            "float" => quote!(f32),
            "QChar" => quote!(char),
            "QString" => quote!(::std::string::String),
            "QByteArray" => quote!(#values::ByteArray),
            "QStringList" => quote!(::std::vec::Vec<::std::string::String>),
            "QVariant" => quote!(#values::Variant),
            "QVariantList" => quote!(::std::vec::Vec<#values::Variant>),
            "QVariantMap" | "QVariantHash" => {
                quote!(::std::collections::BTreeMap<::std::string::String, #values::Variant>)
            }
            "QPoint" => quote!(#values::Point),
            "QPointF" => quote!(#values::PointF),
            "QSize" => quote!(#values::Size),
            "QSizeF" => quote!(#values::SizeF),
            "QRect" => quote!(#values::Rect),
            "QRectF" => quote!(#values::RectF),
            "QLine" => quote!(#values::Line),
            "QLineF" => quote!(#values::LineF),
            "QColor" => quote!(#values::Color),
            "QDateTime" => quote!(#values::DateTime),
            "QDate" => quote!(#values::Date),
            "QTime" => quote!(#values::Time),
            "QUrl" => quote!(#values::Url),
            "QUuid" => quote!(#values::Uuid),
            _ => TokenStream::new(),
        };
        if !builtin.is_empty() {
            return Ok(builtin);
        }
        // A type of the file (a POD, an ENUM, a FLAG), or an enum it declares USE_ENUM of.
        let short = qt.rsplit("::").next().unwrap_or(qt);
        let known = self.file.pods.iter().any(|p| p.name == short)
            || self.file.enums.iter().any(|e| e.name == short)
            || self.file.flags.iter().any(|f| f.name == short)
            || self
                .file
                .used_enums
                .iter()
                .any(|e| e == qt || e.ends_with(&format!("::{short}")))
            || self.file.classes.iter().any(|c| {
                c.enums.iter().any(|e| e.name == short) || c.flags.iter().any(|f| f.name == short)
            })
            || self.file.pods.iter().any(|p| {
                p.enums.iter().any(|e| e.name == short) || p.flags.iter().any(|f| f.name == short)
            });
        let _ = class;
        if known && is_rust_ident(short) {
            let ident = Ident::new(short, Span::call_site());
            return Ok(quote!(#ident));
        }
        Err(self.error(
            line,
            format!(
                "the type `{qt}` has no Rust counterpart: use one of the Qt types of the table \
                 in the crate's documentation (guide::qt), or a POD or ENUM of this file"
            ),
        ))
    }

    /// A Rust expression for a `.rep` default (a C++ initializer): numbers, `true`/`false`,
    /// quoted strings and enum keys.
    fn default(&self, text: &str, ty: &str, line: usize, prop: &str) -> syn::Result<syn::Expr> {
        let text = text.trim();
        let fail = || {
            self.error(
                line,
                format!(
                    "PROP {prop}: the default `{text}` is not one this import understands \
                         (a number, true/false, a quoted string or an enum key)"
                ),
            )
        };
        let code = if text == "true" || text == "false" {
            text.to_owned()
        } else if text.starts_with('"') && text.ends_with('"') && text.len() >= 2 {
            format!("{text}.into()")
        } else if text.parse::<f64>().is_ok() || text.starts_with("0x") {
            let float = matches!(ty, "double" | "qreal" | "float");
            match (float, text.contains('.')) {
                (true, false) => format!("{text}.0"),
                _ => text.to_owned(),
            }
        } else {
            let key = text.rsplit("::").next().unwrap_or(text);
            let enum_name = ty.rsplit("::").next().unwrap_or(ty);
            if !is_rust_ident(key) || !is_rust_ident(enum_name) {
                return Err(fail());
            }
            format!("{enum_name}::{key}")
        };
        syn::parse_str(&code).map_err(|_| fail())
    }
}

fn is_rust_ident(name: &str) -> bool {
    syn::parse_str::<Ident>(name).is_ok()
}

/// `QMap<QString, int>` → (`QMap`, [`QString`, `int`]).
fn template(ty: &str) -> Option<(&str, Vec<&str>)> {
    let open = ty.find('<')?;
    let inner = ty[open + 1..].strip_suffix('>')?;
    let args = rep::split_top_level(inner)
        .into_iter()
        .map(str::trim)
        .collect();
    Some((ty[..open].trim(), args))
}

fn ident(name: &str, ctx: &Context<'_>, line: usize) -> syn::Result<Ident> {
    syn::parse_str::<Ident>(name)
        .map_err(|_| ctx.error(line, format!("`{name}` is not a Rust name")))
}

fn enum_item(e: &rep::Enum, ctx: &Context<'_>) -> syn::Result<TokenStream> {
    let serde = quote!(::actix_remote_objects::__private::serde);
    let name = ident(&e.name, ctx, e.line)?;
    let doc = format!(
        "`ENUM {}` of the .rep file: its keys travel to Qt as their values ({}).",
        e.name,
        e.values
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut variants = Vec::new();
    for (i, (key, _)) in e.values.iter().enumerate() {
        let key = ident(key, ctx, e.line)?;
        let default = (i == 0).then(|| quote!(#[default]));
        variants.push(quote!(#default #key));
    }
    if variants.is_empty() {
        return Err(ctx.error(e.line, format!("ENUM {} has no keys", e.name)));
    }
    Ok(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, #serde::Serialize, #serde::Deserialize)]
        #[serde(crate = "::actix_remote_objects::__private::serde")]
        pub enum #name { #(#variants),* }
    })
}

fn flag_item(f: &rep::Flag, ctx: &Context<'_>) -> syn::Result<TokenStream> {
    let serde = quote!(::actix_remote_objects::__private::serde);
    let name = ident(&f.name, ctx, f.line)?;
    let doc = format!(
        "`FLAG({} {})`: a combination of `{}` values, as their integer.",
        f.name, f.enum_name, f.enum_name
    );
    Ok(quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, #serde::Serialize, #serde::Deserialize)]
        #[serde(crate = "::actix_remote_objects::__private::serde")]
        pub struct #name(pub i32);
    })
}

fn pod_item(p: &rep::Pod, ctx: &Context<'_>) -> syn::Result<TokenStream> {
    let name = ident(&p.name, ctx, p.line)?;
    let mut fields = Vec::new();
    for m in &p.members {
        let field = ident(&m.name, ctx, p.line)?;
        let ty = ctx.rust_type(&m.ty, None, p.line)?;
        fields.push(quote!(pub #field: #ty));
    }
    let doc = format!(
        "`POD {}` of the .rep file: a gadget on the Qt side.",
        p.name
    );
    Ok(struct_item(&doc, &name, &fields))
}

/// A public serde struct of `fields` (Qt's names kept, so not always snake case).
fn struct_item(doc: &str, name: &Ident, fields: &[TokenStream]) -> TokenStream {
    let serde = quote!(::actix_remote_objects::__private::serde);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, Default, PartialEq, #serde::Serialize, #serde::Deserialize)]
        #[serde(crate = "::actix_remote_objects::__private::serde")]
        #[allow(non_snake_case)]
        pub struct #name { #(#fields),* }
    }
}

fn args(
    params: &[rep::Param],
    ctx: &Context<'_>,
    class: &rep::Class,
    line: usize,
) -> syn::Result<Vec<Arg>> {
    params
        .iter()
        .map(|p| {
            let ty: Type = syn::parse2(ctx.rust_type(&p.ty, Some(class), line)?)?;
            Ok(Arg {
                name: ident(&p.name, ctx, line)?,
                ty,
            })
        })
        .collect()
}

/// The name of the row type of `MODEL` `m` of `class`: `<Class><Model>Row`.
fn model_row_name(class: &rep::Class, m: &rep::Model) -> String {
    let mut member = m.name.chars();
    let upper: String = member
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    format!("{}{upper}{}Row", class.name, member.as_str())
}

/// The row type of a `MODEL`: a struct of its roles, each a `QVariant`, named as the file
/// names them (Qt's own roles by their names: `display`, `toolTip`, …).
fn model_row_item(
    class: &rep::Class,
    m: &rep::Model,
    ctx: &Context<'_>,
) -> syn::Result<TokenStream> {
    let name = ident(&model_row_name(class, m), ctx, m.line)?;
    let fields = m
        .roles
        .iter()
        .map(|role| {
            let field = ident(role, ctx, m.line)?;
            Ok(quote!(pub #field: ::actix_remote_objects::qt::values::Variant))
        })
        .collect::<syn::Result<Vec<_>>>()?;
    let doc = format!(
        "A row of `MODEL {}` of class `{}`: one value per role.",
        m.name, class.name
    );
    Ok(struct_item(&doc, &name, &fields))
}

fn class_def(class: &rep::Class, ctx: &Context<'_>, path: &str) -> syn::Result<ApiDef> {
    let mut props = Vec::new();
    let mut children = Vec::new();
    for member in &class.members {
        match member {
            rep::ClassMember::Property(p) => {
                let ty: Type = syn::parse2(ctx.rust_type(&p.ty, Some(class), p.line)?)?;
                let default = p
                    .default
                    .as_deref()
                    .map(|d| ctx.default(d, &p.ty, p.line, &p.name))
                    .transpose()?;
                let (access, push) = match p.access {
                    rep::Access::ReadPush => (Access::ReadOnly, true),
                    rep::Access::ReadWrite => (Access::ReadWrite, false),
                    rep::Access::ReadOnly | rep::Access::SourceOnlySetter => {
                        (Access::ReadOnly, false)
                    }
                    rep::Access::Constant => (Access::Constant, false),
                };
                props.push(PropDef {
                    docs: Vec::new(),
                    name: ident(&p.name, ctx, p.line)?,
                    ty,
                    default,
                    access,
                    persisted: p.persisted,
                    checked: false,
                    push,
                });
            }
            rep::ClassMember::Model(m) => {
                let row = model_row_name(class, m);
                let row = ident(&row, ctx, m.line)?;
                children.push(ChildDef {
                    docs: Vec::new(),
                    name: ident(&m.name, ctx, m.line)?,
                    api: syn::parse_quote!(::actix_remote_objects::model::ListModel<#row>),
                    optional: false,
                    model: Some(syn::parse_quote!(#row)),
                    form: crate::parse::ModelForm::List,
                });
            }
            rep::ClassMember::Child {
                name,
                class: child,
                line,
            } => {
                if !ctx.file.classes.iter().any(|c| c.name == *child) {
                    return Err(ctx.error(
                        *line,
                        format!("CLASS {name}({child}): no class {child} in this file"),
                    ));
                }
                let api = ident(child, ctx, *line)?;
                children.push(ChildDef {
                    docs: Vec::new(),
                    name: ident(name, ctx, *line)?,
                    api: syn::parse_quote!(#api),
                    // A Qt sub-object is a pointer: a source may hold none.
                    optional: true,
                    model: None,
                    form: crate::parse::ModelForm::List,
                });
            }
        }
    }
    let method = |f: &rep::Function, slot: bool| -> syn::Result<MethodDef> {
        let ret = match (slot, f.ret.as_str()) {
            (true, "void") | (false, _) => None,
            (true, ret) => Some(syn::parse2(ctx.rust_type(ret, Some(class), f.line)?)?),
        };
        Ok(MethodDef {
            docs: Vec::new(),
            name: ident(&f.name, ctx, f.line)?,
            args: args(&f.params, ctx, class, f.line)?,
            ret,
        })
    };
    let doc = format!(" `class {}` of `{path}`.", class.name);
    Ok(ApiDef {
        docs: vec![syn::parse_quote!(#[doc = #doc])],
        vis: Visibility::Public(Token![pub](Span::call_site())),
        name: ident(&class.name, ctx, class.line)?,
        wire_name: None,
        props,
        signals: class
            .signals
            .iter()
            .map(|f| method(f, false))
            .collect::<syn::Result<_>>()?,
        slots: class
            .slots
            .iter()
            .map(|f| method(f, true))
            .collect::<syn::Result<_>>()?,
        children,
        rep: None,
        enums: Vec::new(),
    })
}

/// Every item of the file.
pub fn expand(import: &RepImport) -> syn::Result<TokenStream> {
    let relative = import.path.value();
    let span = import.path.span();
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let full = std::path::Path::new(&dir).join(&relative);
    let text = std::fs::read_to_string(&full)
        .map_err(|e| syn::Error::new(span, format!("cannot read {}: {e}", full.display())))?;
    let file = rep::parse(&text).map_err(|e| {
        syn::Error::new(
            span,
            format!("{relative}:{}:{}: {}", e.line, e.column, e.message),
        )
    })?;
    let ctx = Context {
        file: &file,
        shown: relative.clone(),
        span,
    };
    let mut items = Vec::new();
    for e in &file.enums {
        items.push(enum_item(e, &ctx)?);
    }
    for f in &file.flags {
        items.push(flag_item(f, &ctx)?);
    }
    for p in &file.pods {
        for e in &p.enums {
            items.push(enum_item(e, &ctx)?);
        }
        for f in &p.flags {
            items.push(flag_item(f, &ctx)?);
        }
        items.push(pod_item(p, &ctx)?);
    }
    let full_path = LitStr::new(&full.to_string_lossy(), span);
    for class in &file.classes {
        for e in &class.enums {
            items.push(enum_item(e, &ctx)?);
        }
        for f in &class.flags {
            items.push(flag_item(f, &ctx)?);
        }
        for member in &class.members {
            if let rep::ClassMember::Model(m) = member {
                items.push(model_row_item(class, m, &ctx)?);
            }
        }
        let mut def = class_def(class, &ctx, &relative)?;
        def.rep = Some((full_path.clone(), LitStr::new(&class.name, span)));
        def.validate()
            .map_err(|e| ctx.error(class.line, format!("class {}: {e}", class.name)))?;
        items.push(crate::expand::expand(&def));
    }
    Ok(quote!(#(#items)*))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Imports `text` as a .rep file; the error message if it fails.
    fn import(text: &str) -> Result<String, String> {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("aro-rep-{}-{n}.rep", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let import = RepImport {
            path: LitStr::new(&path.to_string_lossy(), Span::call_site()),
        };
        let result = expand(&import)
            .map(|tokens| tokens.to_string())
            .map_err(|e| e.to_string());
        let _ = std::fs::remove_file(&path);
        result
    }

    #[test]
    fn a_file_imports_with_its_text_for_the_runtime() {
        let out = import("POD P(int x)\nclass Counter\n{\n    PROP(int count=5)\n};\n").unwrap();
        assert!(out.contains("qt_rep"), "{out}");
        assert!(out.contains("struct P"), "{out}");
    }

    #[test]
    fn errors_name_the_file_the_line_and_what_is_wrong() {
        let cases = [
            (
                "class A\n{\n    PROP(int)\n};",
                ":3:10: PROP needs a type and a name",
            ),
            (
                "class A\n{\n    PROP(QWidget w)\n};",
                ":3: the type `QWidget` has no Rust counterpart",
            ),
            (
                "class A\n{\n    CLASS child(B)\n};",
                ":3: CLASS child(B): no class B in this file",
            ),
            (
                "class A\n{\n    PROP(int x=foo() READWRITE)\n};",
                ":3: PROP x: the default `foo()`",
            ),
            (
                "class A\n{\n    SLOT(QList<QObject*> all())\n};",
                "has no Rust counterpart",
            ),
        ];
        for (text, expected) in cases {
            let error = import(text).expect_err(text);
            assert!(error.contains(".rep"), "{error}");
            assert!(error.contains(expected), "{text:?}: {error}");
        }
        let missing = RepImport {
            path: LitStr::new("no/such/file.rep", Span::call_site()),
        };
        assert!(expand(&missing)
            .unwrap_err()
            .to_string()
            .contains("cannot read"));
    }
}
