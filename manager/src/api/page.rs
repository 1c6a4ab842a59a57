//! A small read-only HTML status page at `/`: brokers, topics with partitions, groups.
//! Server-rendered from the local metadata; refreshed on reload.

use std::fmt::Write;

use actix_web::{HttpResponse, web};

use super::cluster::broker_infos;
use crate::node::Manager;

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[utoipa::path(
    get,
    path = "/",
    tag = "cluster",
    security(()),
    responses((status = 200, description = "Status page", body = String, content_type = "text/html"))
)]
pub(super) async fn index(m: web::Data<Manager>) -> HttpResponse {
    let role = if m.is_leader() { "write" } else { "read" };
    let leader = m.leader().map_or("unknown".to_string(), |(id, a)| {
        format!("manager-{id} ({a})")
    });
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=utf-8><title>Raftbus</title><style>\
         body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}\
         td,th{{border:1px solid #ccc;padding:4px 10px;text-align:left}}.dead{{color:#b00}}</style></head><body>\
         <h1>Raftbus</h1><p>This is manager-{} ({role} manager). Write manager: {}.</p>",
        m.id,
        esc(&leader)
    );
    m.read(|meta| {
        let _ = write!(h, "<h2>Brokers</h2><table><tr><th>broker</th><th>address</th><th>state</th><th>replicas</th><th>leaders</th></tr>");
        for b in broker_infos(meta) {
            let (class, state) = if b.alive { ("", "alive") } else { ("dead", "dead") };
            let _ = write!(
                h,
                "<tr class={class}><td>broker-{}</td><td>{}</td><td>{state}</td><td>{}</td><td>{}</td></tr>",
                b.id,
                esc(&b.api_addr),
                b.replicas,
                b.leaders
            );
        }
        let _ = write!(h, "</table><h2>Topics</h2><table><tr><th>topic</th><th>partition</th><th>leader</th><th>replicas</th></tr>");
        for (name, t) in &meta.topics {
            for (i, p) in t.partitions.iter().enumerate() {
                let leader = p.leader.map_or("-".to_string(), |l| format!("broker-{l}"));
                let replicas: Vec<String> = p.replicas.iter().map(|r| format!("broker-{r}")).collect();
                let _ = write!(h, "<tr><td>{}</td><td>{i}</td><td>{leader}</td><td>{}</td></tr>", esc(name), replicas.join(", "));
            }
        }
        let _ = write!(h, "</table><h2>Consumer groups</h2><table><tr><th>group</th><th>topic</th><th>generation</th><th>members</th></tr>");
        for (name, g) in &meta.groups {
            let members: Vec<String> =
                g.members.iter().map(|(id, parts)| format!("{id}: {parts:?}")).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(name),
                esc(&g.topic),
                g.generation,
                esc(&members.join("; "))
            );
        }
    });
    h.push_str("</table></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(h)
}
