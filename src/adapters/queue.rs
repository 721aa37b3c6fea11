//! Queue messages as plain JSON, for every producer (API routes, consumers) and consumer.

/// Sends a message as plain JSON. serde-wasm-bindgen would turn `serde_json::Value` maps into JS `Map`s,
/// which do not come back as objects; JSON in, JSON out keeps an envelope's `payload` intact.
pub async fn send_json<T: serde::Serialize>(q: &worker::Queue, message: &T) -> Result<(), String> {
    let text = serde_json::to_string(message).map_err(|e| e.to_string())?;
    let js = js_sys::JSON::parse(&text).map_err(|_| "message is not JSON".to_string())?;
    let msg = worker::RawMessageBuilder::new(js).build_with_content_type(worker::QueueContentType::Json);
    q.send_raw(msg).await.map_err(|e| e.to_string())
}

/// Decodes a message body sent with [`send_json`].
pub fn decode<T: serde::de::DeserializeOwned>(body: &wasm_bindgen::JsValue) -> Result<T, String> {
    let text: String = js_sys::JSON::stringify(body).map_err(|_| "body is not JSON".to_string())?.into();
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

/// Sends messages in `sendBatch` calls within the Queues limits ([`crate::jobs::batches::queue_chunks`]),
/// in order. Returns how many messages from the front were sent, and the error that stopped it, if any:
/// the caller settles the ones not sent.
pub async fn send_json_batch<T: serde::Serialize>(q: &worker::Queue, messages: &[T]) -> (usize, Option<String>) {
    let mut texts = Vec::with_capacity(messages.len());
    for m in messages {
        match serde_json::to_string(m) {
            Ok(t) => texts.push(t),
            Err(e) => return (0, Some(e.to_string())),
        }
    }
    let sizes: Vec<usize> = texts.iter().map(String::len).collect();
    let mut sent = 0;
    for range in crate::jobs::batches::queue_chunks(&sizes) {
        let mut batch = Vec::with_capacity(range.len());
        for text in &texts[range.clone()] {
            let Ok(js) = js_sys::JSON::parse(text) else { return (sent, Some("message is not JSON".into())) };
            batch.push(worker::RawMessageBuilder::new(js).build_with_content_type(worker::QueueContentType::Json));
        }
        if let Err(e) = q.send_raw_batch(batch).await {
            return (sent, Some(e.to_string()));
        }
        sent = range.end;
    }
    (sent, None)
}
