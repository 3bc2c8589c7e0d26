// The page of a path nobody publishes: it says how to publish, and asks
// the server every 3 s (a HEAD of itself, which answers 200 once the
// stream exists) so that it turns into the player by itself.
'use strict';
(() => {
  Sky.header('');
  Sky.translate();
  const main = document.getElementById('nostream');
  const lead = document.getElementById('lead');
  const fill = () => { lead.textContent = Sky.t('noStreamHere', main.dataset.path); };
  document.addEventListener('sky-lang', fill);
  fill();
  setInterval(async () => {
    try {
      const res = await fetch(location.href, { method: 'HEAD', cache: 'no-store' });
      if (res.status === 200) location.reload();
    } catch (e) { /* the gateway restarts: try again */ }
  }, 3000);
})();
