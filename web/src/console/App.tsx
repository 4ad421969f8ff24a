import { useCallback, useEffect, useMemo, useState, type ReactNode } from "react";
import { Api } from "./api";
import type { RuntimeConfig } from "./config";
import { Ctx, initialLang, Link, useApp, useTr, type AppContext, type Lang, type User } from "./ui";
import { AuthPage } from "./pages/Auth";
import { KnowledgeList, KnowledgeDetail } from "./pages/Knowledge";
import { ChatPage } from "./pages/Chat";
import { UsagePage } from "./pages/Usage";
import { KeysPage } from "./pages/Keys";
import { AssistantsList, AssistantDetail } from "./pages/Assistants";
import { UsersPage, ConfigPage, AuditPage } from "./pages/Admin";

export function App({ config }: { config: RuntimeConfig }): ReactNode {
  const api = useMemo(() => new Api(config.apiBase), [config.apiBase]);
  const [lang, setLangState] = useState<Lang>(initialLang);
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(api.signedIn);
  const [path, setPath] = useState(location.pathname);

  const navigate = useCallback((to: string) => {
    if (to !== location.pathname + location.search) history.pushState(null, "", to);
    setPath(location.pathname);
    window.scrollTo(0, 0);
  }, []);
  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    window.addEventListener("popstate", onPop);
    return () => window.removeEventListener("popstate", onPop);
  }, []);
  const setLang = (l: Lang) => {
    localStorage.setItem("claw-console-lang", l);
    setLangState(l);
  };
  useEffect(() => {
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  }, [lang]);

  const loadMe = useCallback(() => {
    if (!api.signedIn) {
      setUser(null);
      setChecking(false);
      return;
    }
    setChecking(true);
    api.request<User>("GET", "/auth/me").then(
      (u) => {
        setUser(u);
        setChecking(false);
      },
      () => {
        setUser(null);
        setChecking(false);
      },
    );
  }, [api]);
  useEffect(() => {
    api.onSignedOut = () => setUser(null);
    loadMe();
  }, [api, loadMe]);

  const ctx: AppContext = { api, config, lang, setLang, user, navigate, path };
  let body: ReactNode;
  if (checking) body = <p className="center muted">…</p>;
  else if (!user) body = <AuthPage onSignedIn={loadMe} />;
  else body = <Shell />;
  return <Ctx.Provider value={ctx}>{body}</Ctx.Provider>;
}

/** English ⇄ 中文; the choice is remembered, otherwise the browser's language decides. */
export function LangSwitch(): ReactNode {
  const { lang, setLang } = useApp();
  const tr = useTr();
  return (
    <button type="button" className="lang" onClick={() => setLang(lang === "zh" ? "en" : "zh")} aria-label={tr("Switch language", "切换语言")}>
      {lang === "zh" ? "English" : "中文"}
    </button>
  );
}

function Shell(): ReactNode {
  const tr = useTr();
  const [menuOpen, setMenuOpen] = useState(false);
  return (
    <Ctx.Consumer>
      {({ user, api, path }) => {
        const seg = path.split("/").filter(Boolean);
        let page: ReactNode;
        if (seg[0] === "knowledge" && seg[1]) page = <KnowledgeDetail kbId={seg[1]} />;
        else if (seg[0] === "chat") page = <ChatPage conversationId={seg[1] || null} />;
        else if (seg[0] === "assistants" && seg[1]) page = <AssistantDetail assistantId={seg[1]} />;
        else if (seg[0] === "assistants") page = <AssistantsList />;
        else if (seg[0] === "usage") page = <UsagePage />;
        else if (seg[0] === "keys") page = <KeysPage />;
        else if (seg[0] === "admin" && seg[1] === "users" && user?.role === "admin") page = <UsersPage />;
        else if (seg[0] === "admin" && seg[1] === "config" && user?.role === "admin") page = <ConfigPage />;
        else if (seg[0] === "admin" && seg[1] === "audit" && user?.role === "admin") page = <AuditPage />;
        else page = <KnowledgeList />;
        return (
          <div className="shell">
            <header className="topbar">
              <button
                type="button"
                className="icon menu-toggle"
                aria-expanded={menuOpen}
                aria-controls="nav"
                aria-label={tr("Menu", "菜单")}
                onClick={() => setMenuOpen(!menuOpen)}
              >
                ☰
              </button>
              <span className="brand">CLAW.AI</span>
              <span className="spacer" />
              <span className="who" title={user?.email}>
                {user?.name || user?.email}
              </span>
              <LangSwitch />
              <button type="button" className="secondary" onClick={() => void api.logout()}>
                {tr("Sign out", "退出")}
              </button>
            </header>
            <nav id="nav" className={menuOpen ? "open" : ""} onClick={() => setMenuOpen(false)} aria-label={tr("Main", "主导航")}>
              <Link to="/knowledge">{tr("Knowledge bases", "知识库")}</Link>
              <Link to="/chat">{tr("Conversations", "对话")}</Link>
              <Link to="/assistants">{tr("Assistants", "助手")}</Link>
              <Link to="/usage">{tr("Usage", "用量")}</Link>
              <Link to="/keys">{tr("API keys", "API 密钥")}</Link>
              {user?.role === "admin" && (
                <>
                  <span className="nav-group">{tr("Administration", "管理")}</span>
                  <Link to="/admin/users">{tr("Users", "用户")}</Link>
                  <Link to="/admin/config">{tr("Runtime configuration", "运行配置")}</Link>
                  <Link to="/admin/audit">{tr("Audit log", "审计日志")}</Link>
                </>
              )}
            </nav>
            <main id="main">{page}</main>
          </div>
        );
      }}
    </Ctx.Consumer>
  );
}
