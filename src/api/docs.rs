//! `/docs`: the API reference as one HTML page, rendered on the server from the same OpenAPI
//! document `/openapi.json` serves. No script, no external asset, a strict CSP: it reads
//! offline and in any browser.

use serde_json::Value;
use std::fmt::Write;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A schema in a few words: its type, or a link to the named component.
fn type_of(schema: &Value) -> String {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = schema[key].as_array() {
            let parts: Vec<String> = items
                .iter()
                .filter(|s| s["type"] != "null")
                .map(type_of)
                .collect();
            return parts.join(" | ");
        }
    }
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str())
            .filter(|t| *t != "null")
            .collect::<Vec<_>>()
            .join(" | "),
        _ => String::new(),
    };
    let mut out = if ty == "array" {
        format!("array of {}", type_of(&schema["items"]))
    } else {
        esc(&ty)
    };
    if let Some(f) = schema["format"].as_str() {
        let _ = write!(out, " ({})", esc(f));
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .filter_map(|v| v.as_str())
            .map(|v| format!("<code>{}</code>", esc(v)))
            .collect();
        let _ = write!(out, ": {}", values.join(", "));
    }
    if let Some(p) = schema["pattern"].as_str() {
        let _ = write!(out, " <code>{}</code>", esc(p));
    }
    out
}

fn paragraph(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| format!("<p>{}</p>", esc(p.trim())))
        .collect()
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value) {
    let id = format!("{method}-{path}")
        .replace(['/', '{', '}'], "-")
        .replace("--", "-");
    let _ = write!(
        out,
        "<section class=\"op\" id=\"{}\"><h3><span class=\"method\">{}</span> <code>{}</code></h3>",
        esc(&id),
        method.to_uppercase(),
        esc(path)
    );
    if let Some(d) = op["description"].as_str().or(op["summary"].as_str()) {
        out.push_str(&paragraph(d));
    }
    if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
        out.push_str("<table><caption>Parameters</caption><thead><tr><th scope=\"col\">name</th><th scope=\"col\">in</th><th scope=\"col\">type</th><th scope=\"col\">description</th></tr></thead><tbody>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p["name"].as_str().unwrap_or("")),
                if p["required"] == true {
                    " (required)"
                } else {
                    ""
                },
                esc(p["in"].as_str().unwrap_or("")),
                type_of(&p["schema"]),
                esc(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>");
    }
    if let Some(content) = op["requestBody"]["content"].as_object() {
        for (media, c) in content {
            let _ = write!(
                out,
                "<p>Body (<code>{}</code>): {}</p>",
                esc(media),
                type_of(&c["schema"])
            );
        }
    }
    if let Some(responses) = op["responses"].as_object() {
        out.push_str("<table><caption>Answers</caption><thead><tr><th scope=\"col\">status</th><th scope=\"col\">body</th><th scope=\"col\">when</th></tr></thead><tbody>");
        for (code, r) in responses {
            let body: Vec<String> = r["content"]
                .as_object()
                .map(|c| {
                    c.iter()
                        .map(|(media, c)| {
                            format!("<code>{}</code> {}", esc(media), type_of(&c["schema"]))
                        })
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(code),
                body.join("<br>"),
                esc(r["description"].as_str().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");
}

fn schema(out: &mut String, name: &str, s: &Value) {
    let _ = write!(
        out,
        "<section class=\"schema\" id=\"schema-{0}\"><h3>{0}</h3>",
        esc(name)
    );
    if let Some(d) = s["description"].as_str() {
        out.push_str(&paragraph(d));
    }
    if let Some(props) = s["properties"].as_object() {
        let required: Vec<&str> = s["required"]
            .as_array()
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        out.push_str("<table><thead><tr><th scope=\"col\">field</th><th scope=\"col\">type</th><th scope=\"col\">description</th></tr></thead><tbody>");
        for (field, p) in props {
            let _ = write!(
                out,
                "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                esc(field),
                if required.contains(&field.as_str()) {
                    " (required)"
                } else {
                    ""
                },
                type_of(p),
                esc(p["description"].as_str().unwrap_or(""))
            );
        }
        out.push_str("</tbody></table>");
    } else {
        let _ = write!(out, "<p>{}</p>", type_of(s));
    }
    out.push_str("</section>");
}

/// The page's style, served at `/docs/style.css` (the CSP allows no inline style).
pub const STYLE: &str = "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:72rem;padding:1rem;color:#1a1a1a}\
h1{font-size:1.75rem}h2{border-bottom:2px solid #154273;margin-top:2.5rem}\
h3{font-size:1.05rem;margin-bottom:.25rem}.method{background:#154273;color:#fff;padding:0 .4rem;border-radius:3px;font-size:.85rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0;font-size:.9rem}caption{text-align:left;font-weight:600}\
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}code{font-size:.9em;word-break:break-word}\
section{margin-bottom:1.5rem}nav ul{columns:2}a{color:#154273}\
@media (max-width:40rem){nav ul{columns:1}table{display:block;overflow-x:auto}}";

/// The reference page of an OpenAPI document.
pub fn render(doc: &Value) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let _ = write!(
        out,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{0} API reference</title><link rel=\"stylesheet\" href=\"/docs/style.css\"></head><body><main>\
         <h1>{0} API reference <small>{1}</small></h1>",
        esc(title),
        esc(doc["info"]["version"].as_str().unwrap_or(""))
    );
    if let Some(d) = doc["info"]["description"].as_str() {
        out.push_str(&paragraph(d));
    }
    out.push_str(
        "<p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
    );
    let tags: Vec<(String, String)> = doc["tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or("").to_string(),
                        t["description"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str("<nav aria-label=\"Contents\"><ul>");
    for (name, _) in &tags {
        let _ = write!(out, "<li><a href=\"#tag-{0}\">{0}</a></li>", esc(name));
    }
    out.push_str("<li><a href=\"#schemas\">schemas</a></li></ul></nav>");
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (tag, description) in &tags {
        let _ = write!(
            out,
            "<h2 id=\"tag-{0}\">{0}</h2>{1}",
            esc(tag),
            paragraph(description)
        );
        for (path, item) in &paths {
            for method in ["get", "post", "put", "patch", "delete"] {
                let op = &item[method];
                let tagged = op["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == tag.as_str()));
                if tagged {
                    operation(&mut out, method, path, op);
                }
            }
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, s) in schemas {
            schema(&mut out, name, s);
        }
    }
    out.push_str("</main></body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_and_schema_is_on_the_page_and_text_is_escaped() {
        let doc = serde_json::to_value(crate::api::openapi()).unwrap();
        let page = render(&doc);
        let mut operations = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    operations += 1;
                    let heading = format!(
                        "<span class=\"method\">{}</span> <code>{}</code>",
                        method.to_uppercase(),
                        esc(path)
                    );
                    assert!(page.contains(&heading), "{method} {path} is missing");
                }
            }
        }
        assert!(operations > 80);
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(page.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
