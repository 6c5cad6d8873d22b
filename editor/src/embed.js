// The video providers the site plays (masthead-render's embed.rs, the same
// rules): a pasted address becomes an embed only if the site will show it.
export function embedProvider(raw) {
  const url = String(raw || "").trim();
  let rest;
  if (url.startsWith("https://")) rest = url.slice(8);
  else if (url.startsWith("http://")) rest = url.slice(7);
  else return null;
  const slash = rest.indexOf("/");
  let host = (slash < 0 ? rest : rest.slice(0, slash)).toLowerCase();
  let path = slash < 0 ? "" : rest.slice(slash + 1);
  if (host.startsWith("www.")) host = host.slice(4);
  const q = path.indexOf("?");
  const query = q < 0 ? "" : path.slice(q + 1);
  if (q >= 0) path = path.slice(0, q);
  const youtube = (id) => (/^[A-Za-z0-9_-]{11}$/.test(id) ? "YouTube" : null);
  if (host === "youtube.com" || host === "m.youtube.com") {
    if (path === "watch") {
      const kv = query.split("&").find((p) => p.startsWith("v="));
      return kv ? youtube(kv.slice(2)) : null;
    }
    const m = /^(?:embed|shorts)\/(.*)$/.exec(path);
    return m ? youtube(m[1].replace(/\/+$/, "")) : null;
  }
  if (host === "youtu.be") return youtube(path.replace(/\/+$/, ""));
  if (host === "vimeo.com" || host === "player.vimeo.com") {
    const id = path.replace(/^video\//, "").replace(/\/+$/, "");
    return /^\d{1,12}$/.test(id) ? "Vimeo" : null;
  }
  return null;
}
