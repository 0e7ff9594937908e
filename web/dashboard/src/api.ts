// Every HTTP call of the workspace, typed with the generated server types, through the SDK's
// RestClient (session cookie + X-CSRF-Token). Endpoints are listed in docs/desk-api.md and the
// OpenAPI document (/openapi.json).
import type {
  Account,
  AgentPreferences,
  AgentStateInput,
  AgentView,
  ApiTokenInfo,
  BulkRequest,
  BulkResult,
  CannedInput,
  CannedList,
  CannedPatch,
  CannedResponse,
  ChangePassword,
  CodeRequest,
  ContactContext,
  ContactEdit,
  Conversation,
  ConversationDetail,
  CreateToken,
  CreateWebsite,
  InboxCounts,
  InboxPage,
  InboxParams,
  Invitation,
  IssuedToken,
  LabelList,
  LabelsInput,
  LiveVisitor,
  LoginRequest,
  MeEdit,
  Message,
  PostedMessage,
  PostMessageRequest,
  ProfileSaved,
  RecoveryCodes,
  RestClient,
  SessionInfo,
  SessionView,
  SsoStatus,
  TotpSetupView,
  TransferInput,
  UpdateConversation,
  UpdateStaff,
  UpdateWebsite,
  WebsiteView,
  Weekly,
} from './sdk';

export type Weekday = keyof Weekly;
export const WEEKDAYS: Weekday[] = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'];

export class DeskApi {
  constructor(readonly rest: RestClient) {}

  // --- signing in ---------------------------------------------------------------------------
  session(): Promise<SessionView> {
    return this.rest.get('/v1/auth/session');
  }
  login(req: LoginRequest): Promise<SessionView> {
    return this.rest.post('/v1/auth/login', req);
  }
  secondFactor(code: string): Promise<SessionView> {
    const req: CodeRequest = { code };
    return this.rest.post('/v1/auth/second-factor', req);
  }
  logout(): Promise<void> {
    return this.rest.post('/v1/auth/logout');
  }
  sso(workspaceId: number): Promise<SsoStatus> {
    return this.rest.get(`/v1/auth/sso/${workspaceId}`);
  }
  ssoStartUrl(workspaceId: number): string {
    return this.rest.url(`/v1/auth/sso/${workspaceId}/start`);
  }

  // --- inbox and conversations -------------------------------------------------------------
  inbox(query: InboxParams): Promise<InboxPage> {
    return this.rest.get('/v1/inbox', { query });
  }
  counts(): Promise<InboxCounts> {
    return this.rest.get('/v1/inbox/counts');
  }
  labels(): Promise<LabelList> {
    return this.rest.get('/v1/labels');
  }
  setLabels(id: number, labels: string[]): Promise<LabelsInput> {
    const req: LabelsInput = { labels };
    return this.rest.put(`/v1/conversations/${id}/labels`, req);
  }
  conversation(id: number): Promise<ConversationDetail> {
    return this.rest.conversation(id);
  }
  history(id: number, query: { before?: number; after?: number; limit?: number }): Promise<Message[]> {
    return this.rest.get(`/v1/conversations/${id}/messages`, { query });
  }
  postMessage(id: number, req: PostMessageRequest): Promise<PostedMessage> {
    return this.rest.post(`/v1/conversations/${id}/messages`, req);
  }
  update(id: number, req: UpdateConversation): Promise<Conversation> {
    return this.rest.patch(`/v1/conversations/${id}`, req);
  }
  bulk(req: BulkRequest): Promise<BulkResult> {
    return this.rest.post('/v1/conversations/bulk', req);
  }
  transfer(id: number, req: TransferInput): Promise<void> {
    return this.rest.post(`/v1/conversations/${id}/transfer`, req);
  }
  acceptTransfer(id: number): Promise<void> {
    return this.rest.post(`/v1/conversations/${id}/transfer/accept`);
  }
  declineTransfer(id: number): Promise<void> {
    return this.rest.post(`/v1/conversations/${id}/transfer/decline`);
  }
  contactContext(accountId: number): Promise<ContactContext> {
    return this.rest.get(`/v1/contacts/${accountId}/context`);
  }
  /** Corrects a contact's details (a verified contact's name and email: 409 conflict). */
  editContact(accountId: number, req: ContactEdit): Promise<ProfileSaved> {
    return this.rest.patch(`/v1/contacts/${accountId}`, req);
  }

  // --- canned responses and preferences -----------------------------------------------------
  canned(): Promise<CannedList> {
    return this.rest.get('/v1/canned-responses');
  }
  createCanned(req: CannedInput): Promise<CannedResponse> {
    return this.rest.post('/v1/canned-responses', req);
  }
  updateCanned(id: number, req: CannedPatch): Promise<CannedResponse> {
    return this.rest.patch(`/v1/canned-responses/${id}`, req);
  }
  deleteCanned(id: number): Promise<void> {
    return this.rest.delete(`/v1/canned-responses/${id}`);
  }
  preferences(): Promise<AgentPreferences> {
    return this.rest.get('/v1/me/preferences');
  }
  savePreferences(p: AgentPreferences): Promise<AgentPreferences> {
    return this.rest.put('/v1/me/preferences', p);
  }

  // --- agents, websites, visitors -----------------------------------------------------------
  agents(): Promise<AgentView[]> {
    return this.rest.get('/v1/agents');
  }
  setAgentState(accountId: number, req: AgentStateInput): Promise<AgentView> {
    return this.rest.put(`/v1/agents/${accountId}/state`, req);
  }
  websites(): Promise<WebsiteView[]> {
    return this.rest.get('/v1/websites');
  }
  createWebsite(req: CreateWebsite): Promise<WebsiteView> {
    return this.rest.post('/v1/websites', req);
  }
  updateWebsite(id: number, req: UpdateWebsite): Promise<WebsiteView> {
    return this.rest.put(`/v1/websites/${id}`, req);
  }
  visitors(websiteId: number): Promise<LiveVisitor[]> {
    return this.rest.get(`/v1/websites/${websiteId}/visitors`);
  }

  // --- administration and account security --------------------------------------------------
  invite(req: Invitation): Promise<Account> {
    return this.rest.post('/v1/staff/invitations', req);
  }
  setRole(accountId: number, req: UpdateStaff): Promise<Account> {
    return this.rest.patch(`/v1/staff/${accountId}`, req);
  }
  deactivate(accountId: number): Promise<void> {
    return this.rest.delete(`/v1/staff/${accountId}`);
  }
  tokens(accountId: number): Promise<ApiTokenInfo[]> {
    return this.rest.get(`/v1/staff/${accountId}/tokens`);
  }
  createToken(accountId: number, req: CreateToken): Promise<IssuedToken> {
    return this.rest.post(`/v1/staff/${accountId}/tokens`, req);
  }
  revokeToken(tokenId: number): Promise<void> {
    return this.rest.delete(`/v1/tokens/${tokenId}`);
  }
  /** The signed-in staff member's own name and photo. */
  editMe(req: MeEdit): Promise<Account> {
    return this.rest.patch('/v1/me', req);
  }
  sessions(): Promise<SessionInfo[]> {
    return this.rest.get('/v1/auth/sessions');
  }
  revokeSession(id: number): Promise<void> {
    return this.rest.delete(`/v1/auth/sessions/${id}`);
  }
  totpSetup(): Promise<TotpSetupView> {
    return this.rest.post('/v1/auth/totp/setup');
  }
  totpEnable(code: string): Promise<RecoveryCodes> {
    const req: CodeRequest = { code };
    return this.rest.post('/v1/auth/totp/enable', req);
  }
  totpDisable(code: string): Promise<void> {
    const req: CodeRequest = { code };
    return this.rest.post('/v1/auth/totp/disable', req);
  }
  changePassword(req: ChangePassword): Promise<void> {
    return this.rest.post('/v1/auth/password', req);
  }
}
