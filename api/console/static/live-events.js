// The dashboard's live events: Server-Sent Events from /console/stream/events, the newest row
// on top. The browser reconnects by itself when a stream ends (with Last-Event-ID); a row
// already shown (same event id) is skipped. Text goes in with textContent, never as HTML.
(() => {
  const box = document.getElementById("recent-events");
  if (!box || !window.EventSource) return;  // htmx polls the fragment instead
  const body = box.querySelector("tbody");
  const keep = 20;
  const cells = [["at", "time"], ["kind", ""], ["number", ""], ["name", ""], ["door", ""],
                 ["result", ""]];
  const source = new EventSource(box.dataset.stream);
  source.addEventListener("event", (message) => {
    const e = JSON.parse(message.data);
    if (body.querySelector(`tr[data-id="${CSS.escape(e.id)}"]`)) return;
    const row = document.createElement("tr");
    row.dataset.id = e.id;
    if (e.alarm) row.className = "alarm";
    for (const [key, cls] of cells) {
      const cell = row.insertCell();
      cell.textContent = e[key];
      if (cls) cell.className = cls;
    }
    const empty = body.querySelector("td[colspan]");
    if (empty) empty.parentElement.remove();
    body.prepend(row);
    while (body.rows.length > keep) body.deleteRow(-1);
  });
})();
