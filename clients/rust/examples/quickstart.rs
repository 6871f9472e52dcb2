//! The README's example: `cargo run --example quickstart` against a server on 127.0.0.1:7432
//! (`ENGRAM_URL` and `ENGRAM_API_KEY` override the address and set the key).

use engram_client::{Client, ErrorKind, Observation, RecallOptions, RememberOptions, StreamOptions};

#[tokio::main]
async fn main() -> engram_client::Result<()> {
    let url = std::env::var("ENGRAM_URL").unwrap_or_else(|_| "http://127.0.0.1:7432".into());
    let client = Client::builder(url)
        .api_key_opt(std::env::var("ENGRAM_API_KEY").ok())
        .build()?;
    if let Err(e) = client.create_space("notes", 4).await {
        if e.kind() != ErrorKind::SpaceExists {
            return Err(e);
        }
    }
    let notes = client.space("notes"); // a handle; no request
    let id = notes
        .remember(&[1.0, 0.0, 0.0, 0.0], RememberOptions::content("alpha"))
        .await?;
    let hits = notes.search(&[1.0, 0.0, 0.0, 0.0], 5, None).await?; // [Hit { id, score }, ...]
    let recalled = notes
        .recall(
            &[1.0, 0.0, 0.0, 0.0],
            RecallOptions {
                k: Some(5),
                ..Default::default()
            },
        )
        .await?;
    println!("{id} {hits:?} {recalled:?} {:?}", notes.get(id).await?);

    let stream = client.stream("notes", StreamOptions::default()).await?;
    for v in [[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]] {
        stream.send(Observation::new(v).content("streamed")).await?; // -> index 0, 1, ...
    }
    let ids = stream.flush().await?; // index -> memory id, once every one is acknowledged
    stream.close().await?;
    println!("streamed: {ids:?}");
    Ok(())
}
