// Who is on each website now, with the page they are on (GET /v1/websites/{id}/visitors,
// kept live by `visitor` frames).
import type { Desk } from '../desk';
import { useDesk, useNow } from './hooks';

const fmtDuration = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
};

export function VisitorsPage({ desk }: { desk: Desk }) {
  const s = useDesk(desk);
  useNow(10_000);
  return (
    <section class="page" aria-label="Live visitors" data-testid="visitors">
      <div class="page-head">
        <h1>Live visitors</h1>
        <button type="button" class="small" onClick={() => void desk.loadVisitors()}>
          Refresh
        </button>
      </div>
      {s.websites.length === 0 ? <p class="muted">No websites yet.</p> : null}
      {s.websites.map((w) => {
        const list = s.visitors[w.id] ?? [];
        return (
          <section key={w.id} class="card" data-testid="visitors-website" data-website={w.id}>
            <h2>
              {w.name} <span class="count">{list.length}</span>
            </h2>
            {list.length === 0 ? (
              <p class="muted">Nobody on this website right now.</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th scope="col">Visitor</th>
                    <th scope="col">Page</th>
                    <th scope="col">Location</th>
                    <th scope="col">Source</th>
                    <th scope="col">Device</th>
                    <th scope="col">On site</th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((v) => {
                    const ses = v.session;
                    const place = [ses.location.city, ses.location.country].filter(Boolean).join(', ');
                    return (
                      <tr key={ses.id} data-testid="visitor-row" data-session={ses.id}>
                        <td>
                          {v.name ?? v.email ?? `Visitor #${ses.account_id}`}
                          {v.returning ? <span class="chip">returning</span> : null}
                          <span class={`chip id-${v.identity}`}>{v.identity}</span>
                        </td>
                        <td data-testid="visitor-page" title={ses.current_url ?? ''}>
                          {ses.current_title || ses.current_url || '—'}
                        </td>
                        <td>{place || '—'}</td>
                        <td>{ses.traffic.source.replace(/_/g, ' ')}</td>
                        <td>{[ses.device.browser, ses.device.os].filter(Boolean).join(' · ') || '—'}</td>
                        <td>{fmtDuration(v.time_on_site_ms)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </section>
        );
      })}
    </section>
  );
}
