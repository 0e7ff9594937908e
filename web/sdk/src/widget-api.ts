// The public website-widget endpoints (`/v1/widget/{key}/…`, crates/server/src/api/widget.rs).
// Their request and response bodies (`VisitorStart`, `WidgetIdentify`, `ProfileInput` …) are
// generated from crates/core/src/api.rs, `WidgetConfig`, `FormField` … from
// crates/core/src/website.rs.
import type { RestClient } from './rest';
import type {
  Activity,
  OfflineMessage,
  OfflineReceived,
  PageInfo,
  ProfileInput,
  ProfileSaved,
  TrackedEvent,
  VisitorStart,
  VisitorStarted,
  WidgetConfig,
  WidgetIdentified,
  WidgetIdentify,
} from './types';

/** The form field kinds the widget knows (`FormField.kind` is a string on the wire). */
export type FieldKind = 'name' | 'email' | 'phone' | 'text';

/** Typed calls of the widget endpoints; the bearer token is the RestClient's. */
export class WidgetApi {
  constructor(
    private readonly rest: RestClient,
    readonly key: string,
  ) {}

  private path(suffix = ''): string {
    return `/v1/widget/${encodeURIComponent(this.key)}${suffix}`;
  }

  config(): Promise<WidgetConfig> {
    return this.rest.get(this.path(), { anonymous: true });
  }
  visitor(req: VisitorStart): Promise<VisitorStarted> {
    return this.rest.post(this.path('/visitors'), req, { anonymous: true });
  }
  identify(req: WidgetIdentify): Promise<WidgetIdentified> {
    return this.rest.post(this.path('/identify'), req);
  }
  profile(req: ProfileInput): Promise<ProfileSaved> {
    return this.rest.put(this.path('/profile'), req);
  }
  pageview(page: PageInfo): Promise<void> {
    return this.rest.post(this.path('/pageviews'), page);
  }
  activity(req: Activity): Promise<void> {
    return this.rest.post(this.path('/activity'), req);
  }
  track(req: TrackedEvent): Promise<void> {
    return this.rest.post(this.path('/events'), req);
  }
  offline(req: OfflineMessage): Promise<OfflineReceived> {
    return this.rest.post(this.path('/offline'), req);
  }
}
