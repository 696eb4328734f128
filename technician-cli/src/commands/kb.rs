//! `triage kb add|list|show|search|edit|retire`.

use super::{connect, print_json, terminal_width, unexpected, Connected, JsonArray, Out};
use crate::args::KbCommand;
use crate::error::CliError;
use crate::home::Home;
use crate::pager::Pager;
use crate::render::kb::{article_detail, article_hits, article_table};
use crate::ticket_ref::TicketRef;
use std::io::Read;
use std::path::Path;
use triage_shared::approval::ScriptDigest;
use triage_shared::kb::{
    Article, ArticleChange, ArticleContent, ArticleDraft, ArticleFilter, Visibility,
    MAX_ARTICLE_BODY_LEN,
};
use triage_shared::protocol::{Request, Response};
use triage_shared::queue::SearchQuery;
use triage_shared::ticket::Category;
use triage_shared::time::Timestamp;

/// Most articles one listing walks.
const MAX_LISTED_ARTICLES: usize = 1_000_000;

/// Reads a markdown body from FILE (`-`: standard input), bounded, so a
/// mistake is named before anything is sent.
pub fn read_body(path: &Path) -> Result<String, CliError> {
    let bad = |e: std::io::Error| {
        CliError::InvalidInput(format!("cannot read the body from {}: {e}", path.display()))
    };
    let mut text = String::new();
    let limit = MAX_ARTICLE_BODY_LEN as u64 + 1;
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_string(&mut text)
            .map_err(bad)?;
    } else {
        std::fs::File::open(path)
            .map_err(bad)?
            .take(limit)
            .read_to_string(&mut text)
            .map_err(bad)?;
    }
    if text.len() > MAX_ARTICLE_BODY_LEN {
        return Err(CliError::InvalidInput(format!(
            "{} is over {MAX_ARTICLE_BODY_LEN} bytes; an article body must be shorter",
            path.display()
        )));
    }
    Ok(text.replace("\r\n", "\n"))
}

/// `kb add` as typed, before the draft (if any) is fetched.
struct AddPlan {
    title: Option<String>,
    from_ticket: Option<TicketRef>,
    category: Option<Category>,
    tags: Option<Vec<String>>,
    visibility: Option<Visibility>,
    script: Option<ScriptDigest>,
}

/// **Pure**: the article to add, from what was typed and the draft of
/// the ticket it is written from (fetched unless title and body were both
/// typed). What is typed wins.
fn compose(
    plan: &AddPlan,
    body: Option<String>,
    drafted: Option<ArticleContent>,
) -> Result<ArticleContent, CliError> {
    let from_ticket = plan.from_ticket.is_some();
    let (draft_title, draft_body, draft_category) = match drafted {
        Some(d) => (Some(d.title), Some(d.body), d.category),
        None => (None, None, None),
    };
    let title = plan.title.clone().or(draft_title).ok_or_else(|| {
        CliError::InvalidInput("give the article's title with --title (or --from-ticket)".into())
    })?;
    let body = body.or(draft_body).ok_or_else(|| {
        CliError::InvalidInput(
            "give the article's markdown with --body FILE (or --from-ticket)".into(),
        )
    })?;
    let content = ArticleContent {
        title,
        body,
        category: plan.category.or(draft_category),
        tags: plan.tags.clone().unwrap_or_default(),
        visibility: plan.visibility.unwrap_or(if from_ticket {
            Visibility::Internal
        } else {
            Visibility::Public
        }),
        script: plan.script,
    };
    content.validate()?;
    Ok(content)
}

pub async fn run(home: &Home, command: KbCommand, out: Out<'_>) -> Result<(), CliError> {
    // Everything typed is read and checked before connecting.
    match command {
        KbCommand::Add {
            title,
            body,
            from_ticket,
            category,
            tags,
            visibility,
            script,
            json,
        } => {
            let plan = AddPlan {
                title,
                from_ticket: from_ticket.as_deref().map(TicketRef::parse).transpose()?,
                category,
                tags: tags.map(|t| t.0),
                visibility,
                script,
            };
            let body = body.as_deref().map(read_body).transpose()?;
            if plan.from_ticket.is_none() {
                compose(&plan, body.clone(), None)?;
            }
            let conn = connect(home).await?;
            let result = add(&conn, &plan, body, json, out).await;
            conn.close().await;
            result
        }
        KbCommand::List {
            category,
            tag,
            retired,
            limit,
            json,
        } => {
            let filter = ArticleFilter {
                category,
                tag,
                include_retired: retired,
            };
            let conn = connect(home).await?;
            let result = list(&conn, &filter, limit, json, out).await;
            conn.close().await;
            result
        }
        KbCommand::Show {
            article,
            version,
            json,
        } => {
            let conn = connect(home).await?;
            let result = conn
                .article(Request::ShowArticle {
                    id: article,
                    version,
                })
                .await;
            conn.close().await;
            print_article(&result?, json, out)
        }
        KbCommand::Search { query, limit, json } => {
            let query = SearchQuery::parse(&query)?;
            let request = Request::SearchArticles { query, limit };
            let conn = connect(home).await?;
            let result = conn.ask(&request).await;
            conn.close().await;
            let hits = match result? {
                Response::ArticleHits(hits) => hits,
                _ => return Err(unexpected(&request)),
            };
            if json {
                return print_json(out, &hits);
            }
            out.write_all(article_hits(&hits).as_bytes())?;
            Ok(())
        }
        KbCommand::Edit {
            article,
            title,
            body,
            category,
            tags,
            visibility,
            script,
            base,
            json,
        } => {
            let mut change = ArticleChange {
                base_version: base.unwrap_or(0),
                title,
                body: body.as_deref().map(read_body).transpose()?,
                category: category.map(|c| c.0),
                tags: tags.map(|t| t.0),
                visibility,
                script: script.map(|s| s.0),
            };
            if change.is_empty() {
                return Err(CliError::InvalidInput(
                    "the edit changes nothing; give --title, --body, --category, --tags, --visibility or --script".into(),
                ));
            }
            let conn = connect(home).await?;
            let result = async {
                if base.is_none() {
                    // Edit the newest: the relay still refuses it if
                    // someone else's edit lands in between.
                    let current = conn
                        .article(Request::ShowArticle {
                            id: article,
                            version: None,
                        })
                        .await?;
                    change.base_version = current.current_version;
                }
                conn.article(Request::EditArticle {
                    id: article,
                    change,
                })
                .await
            }
            .await;
            conn.close().await;
            let edited = result?;
            if json {
                return print_json(out, &edited);
            }
            writeln!(
                out,
                "{} is now at version {}.",
                edited.id, edited.current_version
            )?;
            Ok(())
        }
        KbCommand::Retire { article } => {
            let conn = connect(home).await?;
            let result = conn.article(Request::RetireArticle { id: article }).await;
            conn.close().await;
            let retired = result?;
            writeln!(
                out,
                "{} retired: kept, and never offered or suggested again.",
                retired.id
            )?;
            Ok(())
        }
    }
}

async fn add(
    conn: &Connected,
    plan: &AddPlan,
    body: Option<String>,
    json: bool,
    out: Out<'_>,
) -> Result<(), CliError> {
    let (drafted, from_ticket) = match &plan.from_ticket {
        Some(target) => {
            let ticket = conn.resolve_ticket(target).await?;
            // A body of one's own needs no drafted fix.
            let draft = match (&plan.title, &body) {
                (Some(_), Some(_)) => None,
                _ => Some(conn.article_draft(ticket).await?),
            };
            (draft, Some(ticket))
        }
        None => (None, None),
    };
    let drafted_visibility = from_ticket.is_some() && plan.visibility.is_none();
    let content = compose(plan, body, drafted)?;
    let article = conn
        .article(Request::AddArticle {
            draft: ArticleDraft {
                content,
                from_ticket,
            },
        })
        .await?;
    if json {
        return print_json(out, &article);
    }
    writeln!(out, "{} added: {}", article.id, article.content.title)?;
    if drafted_visibility {
        writeln!(
            out,
            "It is internal: a ticket's words may be personal. Read it (`triage kb show {}`), then `triage kb edit {} --visibility public` to offer it to employees.",
            article.id, article.id
        )?;
    }
    Ok(())
}

async fn list(
    conn: &Connected,
    filter: &ArticleFilter,
    limit: Option<u32>,
    json: bool,
    out: Out<'_>,
) -> Result<(), CliError> {
    let mut pager = Pager::new(limit.map(|n| n as usize), MAX_LISTED_ARTICLES, "article");
    let mut rows = Vec::new();
    let mut array = json.then(|| JsonArray::start(&mut *out));
    while let Some((after, limit)) = pager.next() {
        let request = Request::ListArticles {
            filter: filter.clone(),
            after,
            limit,
        };
        let page = match conn.ask(&request).await? {
            Response::Articles { articles, next } => pager.take(articles, next)?,
            _ => return Err(unexpected(&request)),
        };
        match &mut array {
            Some(a) => a.extend(&page)?,
            None => rows.extend(page),
        }
    }
    match array {
        Some(a) => a.finish(),
        None => {
            out.write_all(article_table(&rows, Timestamp::now(), terminal_width()).as_bytes())?;
            Ok(())
        }
    }
}

fn print_article(article: &Article, json: bool, out: Out<'_>) -> Result<(), CliError> {
    if json {
        return print_json(out, article);
    }
    out.write_all(article_detail(article, Timestamp::now()).as_bytes())?;
    Ok(())
}

impl Connected {
    /// Sends a request answered with one article.
    pub async fn article(&self, request: Request) -> Result<Article, CliError> {
        match self.ask(&request).await? {
            Response::Article(article) => Ok(*article),
            _ => Err(unexpected(&request)),
        }
    }

    async fn article_draft(
        &self,
        ticket: triage_shared::TicketId,
    ) -> Result<ArticleContent, CliError> {
        let request = Request::DraftArticle { ticket };
        match self.ask(&request).await? {
            Response::ArticleDraft(draft) => Ok(*draft),
            _ => Err(unexpected(&request)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use triage_shared::kb::ArticleId;

    fn plan() -> AddPlan {
        AddPlan {
            title: None,
            from_ticket: None,
            category: None,
            tags: None,
            visibility: None,
            script: None,
        }
    }

    fn drafted() -> ArticleContent {
        ArticleContent {
            title: "Printer on fire".into(),
            body: "## Problem\n\nsmoke\n\n## Fix\n\nunplugged\n".into(),
            category: Some(Category::Hardware),
            tags: vec![],
            visibility: Visibility::Public,
            script: None,
        }
    }

    #[test]
    fn an_article_needs_a_title_and_a_body_from_somewhere() {
        let e = compose(&plan(), Some("text".into()), None).unwrap_err();
        assert!(e.to_string().contains("--title"), "{e}");
        let mut p = plan();
        p.title = Some("VPN".into());
        let e = compose(&p, None, None).unwrap_err();
        assert!(e.to_string().contains("--body"), "{e}");
        let c = compose(&p, Some("text".into()), None).unwrap();
        assert_eq!(c.visibility, Visibility::Public);
        p.title = Some("two\nlines".into());
        assert!(compose(&p, Some("text".into()), None).is_err());
    }

    #[test]
    fn a_draft_from_a_ticket_fills_what_was_not_typed_and_starts_internal() {
        let mut p = plan();
        p.from_ticket = Some(TicketRef::parse("0123456789abcdef").unwrap());
        let c = compose(&p, None, Some(drafted())).unwrap();
        assert_eq!(c.title, "Printer on fire");
        assert!(c.body.contains("unplugged"));
        assert_eq!(c.category, Some(Category::Hardware));
        assert_eq!(c.visibility, Visibility::Internal);
        p.title = Some("Fuser swap".into());
        p.visibility = Some(Visibility::Public);
        p.tags = Some(vec!["printer".into()]);
        let c = compose(&p, Some("my words".into()), Some(drafted())).unwrap();
        assert_eq!(
            (c.title.as_str(), c.body.as_str(), c.visibility),
            ("Fuser swap", "my words", Visibility::Public)
        );
        assert_eq!(c.tags, ["printer"]);
    }

    #[test]
    fn bodies_are_read_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.md");
        std::fs::write(&file, "line\r\nnext").unwrap();
        assert_eq!(read_body(&file).unwrap(), "line\nnext");
        std::fs::write(&file, "x".repeat(MAX_ARTICLE_BODY_LEN + 1)).unwrap();
        assert!(read_body(&file).unwrap_err().to_string().contains("over"));
        assert!(read_body(&dir.path().join("missing.md")).is_err());
    }

    #[test]
    fn article_numbers_parse_on_the_command_line() {
        use crate::args::{Cli, Command};
        use clap::Parser;
        let cli = Cli::try_parse_from(["triage", "kb", "show", "KB-7", "--version", "2"]).unwrap();
        match cli.command {
            Command::Kb(KbCommand::Show {
                article, version, ..
            }) => assert_eq!((article, version), (ArticleId(7), Some(2))),
            other => panic!("{other:?}"),
        }
        let cli = Cli::try_parse_from([
            "triage",
            "kb",
            "edit",
            "3",
            "--category",
            "none",
            "--tags",
            "Wifi,vpn",
        ])
        .unwrap();
        match cli.command {
            Command::Kb(KbCommand::Edit { category, tags, .. }) => {
                assert_eq!(category.map(|c| c.0), Some(None));
                assert_eq!(tags.unwrap().0, ["vpn", "wifi"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["triage", "kb", "show", "KB-x"]).is_err());
        assert!(Cli::try_parse_from(["triage", "kb", "list", "--tag", "a,b"]).is_err());
    }
}
