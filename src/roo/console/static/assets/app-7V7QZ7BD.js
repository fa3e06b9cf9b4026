var ae,k,Me,yt,N,De,Ne,pe,he,_e,fe,gt,J={},He=[],vt=/acit|ex(?:s|g|n|p|$)|rph|grid|ows|mnc|ntw|ine[ch]|zoo|^ord|itera/i,me=Array.isArray;function M(e,t){for(var n in t)e[n]=t[n];return e}function Fe(e){e&&e.parentNode&&e.parentNode.removeChild(e)}function H(e,t,n){var s,o,a,c={};for(a in t)a=="key"?s=t[a]:a=="ref"?o=t[a]:c[a]=t[a];if(arguments.length>2&&(c.children=arguments.length>3?ae.call(arguments,2):n),typeof e=="function"&&e.defaultProps!=null)for(a in e.defaultProps)c[a]===void 0&&(c[a]=e.defaultProps[a]);return ne(e,c,s,o,null)}function ne(e,t,n,s,o){var a={type:e,props:t,key:n,ref:s,__k:null,__:null,__b:0,__e:null,__d:void 0,__c:null,constructor:void 0,__v:o??++Me,__i:-1,__u:0};return o==null&&k.vnode!=null&&k.vnode(a),a}function re(e){return e.children}function se(e,t){this.props=e,this.context=t}function B(e,t){if(t==null)return e.__?B(e.__,e.__i+1):null;for(var n;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null)return n.__e;return typeof e.type=="function"?B(e):null}function Oe(e){var t,n;if((e=e.__)!=null&&e.__c!=null){for(e.__e=e.__c.base=null,t=0;t<e.__k.length;t++)if((n=e.__k[t])!=null&&n.__e!=null){e.__e=e.__c.base=n.__e;break}return Oe(e)}}function Ae(e){(!e.__d&&(e.__d=!0)&&N.push(e)&&!oe.__r++||De!==k.debounceRendering)&&((De=k.debounceRendering)||Ne)(oe)}function oe(){var e,t,n,s,o,a,c,i;for(N.sort(pe);e=N.shift();)e.__d&&(t=N.length,s=void 0,a=(o=(n=e).__v).__e,c=[],i=[],n.__P&&((s=M({},o)).__v=o.__v+1,k.vnode&&k.vnode(s),$e(n.__P,s,o,n.__n,n.__P.namespaceURI,32&o.__u?[a]:null,c,a??B(o),!!(32&o.__u),i),s.__v=o.__v,s.__.__k[s.__i]=s,We(c,s,i),s.__e!=a&&Oe(s)),N.length>t&&N.sort(pe));oe.__r=0}function Le(e,t,n,s,o,a,c,i,r,u,d){var l,f,p,g,$,w=s&&s.__k||He,v=t.length;for(n.__d=r,bt(n,t,w),r=n.__d,l=0;l<v;l++)(p=n.__k[l])!=null&&(f=p.__i===-1?J:w[p.__i]||J,p.__i=l,$e(e,p,f,o,a,c,i,r,u,d),g=p.__e,p.ref&&f.ref!=p.ref&&(f.ref&&ye(f.ref,null,p),d.push(p.ref,p.__c||g,p)),$==null&&g!=null&&($=g),65536&p.__u||f.__k===p.__k?r=je(p,r,e):typeof p.type=="function"&&p.__d!==void 0?r=p.__d:g&&(r=g.nextSibling),p.__d=void 0,p.__u&=-196609);n.__d=r,n.__e=$}function bt(e,t,n){var s,o,a,c,i,r=t.length,u=n.length,d=u,l=0;for(e.__k=[],s=0;s<r;s++)(o=t[s])!=null&&typeof o!="boolean"&&typeof o!="function"?(c=s+l,(o=e.__k[s]=typeof o=="string"||typeof o=="number"||typeof o=="bigint"||o.constructor==String?ne(null,o,null,null,null):me(o)?ne(re,{children:o},null,null,null):o.constructor===void 0&&o.__b>0?ne(o.type,o.props,o.key,o.ref?o.ref:null,o.__v):o).__=e,o.__b=e.__b+1,a=null,(i=o.__i=kt(o,n,c,d))!==-1&&(d--,(a=n[i])&&(a.__u|=131072)),a==null||a.__v===null?(i==-1&&l--,typeof o.type!="function"&&(o.__u|=65536)):i!==c&&(i==c-1?l--:i==c+1?l++:(i>c?l--:l++,o.__u|=65536))):o=e.__k[s]=null;if(d)for(s=0;s<u;s++)(a=n[s])!=null&&!(131072&a.__u)&&(a.__e==e.__d&&(e.__d=B(a)),Be(a,a))}function je(e,t,n){var s,o;if(typeof e.type=="function"){for(s=e.__k,o=0;s&&o<s.length;o++)s[o]&&(s[o].__=e,t=je(s[o],t,n));return t}e.__e!=t&&(t&&e.type&&!n.contains(t)&&(t=B(e)),n.insertBefore(e.__e,t||null),t=e.__e);do t=t&&t.nextSibling;while(t!=null&&t.nodeType===8);return t}function kt(e,t,n,s){var o=e.key,a=e.type,c=n-1,i=n+1,r=t[n];if(r===null||r&&o==r.key&&a===r.type&&!(131072&r.__u))return n;if(s>(r!=null&&!(131072&r.__u)?1:0))for(;c>=0||i<t.length;){if(c>=0){if((r=t[c])&&!(131072&r.__u)&&o==r.key&&a===r.type)return c;c--}if(i<t.length){if((r=t[i])&&!(131072&r.__u)&&o==r.key&&a===r.type)return i;i++}}return-1}function Ue(e,t,n){t[0]==="-"?e.setProperty(t,n??""):e[t]=n==null?"":typeof n!="number"||vt.test(t)?n:n+"px"}function te(e,t,n,s,o){var a;e:if(t==="style")if(typeof n=="string")e.style.cssText=n;else{if(typeof s=="string"&&(e.style.cssText=s=""),s)for(t in s)n&&t in n||Ue(e.style,t,"");if(n)for(t in n)s&&n[t]===s[t]||Ue(e.style,t,n[t])}else if(t[0]==="o"&&t[1]==="n")a=t!==(t=t.replace(/(PointerCapture)$|Capture$/i,"$1")),t=t.toLowerCase()in e||t==="onFocusOut"||t==="onFocusIn"?t.toLowerCase().slice(2):t.slice(2),e.l||(e.l={}),e.l[t+a]=n,n?s?n.u=s.u:(n.u=he,e.addEventListener(t,a?fe:_e,a)):e.removeEventListener(t,a?fe:_e,a);else{if(o=="http://www.w3.org/2000/svg")t=t.replace(/xlink(H|:h)/,"h").replace(/sName$/,"s");else if(t!="width"&&t!="height"&&t!="href"&&t!="list"&&t!="form"&&t!="tabIndex"&&t!="download"&&t!="rowSpan"&&t!="colSpan"&&t!="role"&&t!="popover"&&t in e)try{e[t]=n??"";break e}catch{}typeof n=="function"||(n==null||n===!1&&t[4]!=="-"?e.removeAttribute(t):e.setAttribute(t,t=="popover"&&n==1?"":n))}}function Re(e){return function(t){if(this.l){var n=this.l[t.type+e];if(t.t==null)t.t=he++;else if(t.t<n.u)return;return n(k.event?k.event(t):t)}}}function $e(e,t,n,s,o,a,c,i,r,u){var d,l,f,p,g,$,w,v,b,y,h,E,q,R,D,W,U=t.type;if(t.constructor!==void 0)return null;128&n.__u&&(r=!!(32&n.__u),a=[i=t.__e=n.__e]),(d=k.__b)&&d(t);e:if(typeof U=="function")try{if(v=t.props,b="prototype"in U&&U.prototype.render,y=(d=U.contextType)&&s[d.__c],h=d?y?y.props.value:d.__:s,n.__c?w=(l=t.__c=n.__c).__=l.__E:(b?t.__c=l=new U(v,h):(t.__c=l=new se(v,h),l.constructor=U,l.render=St),y&&y.sub(l),l.props=v,l.state||(l.state={}),l.context=h,l.__n=s,f=l.__d=!0,l.__h=[],l._sb=[]),b&&l.__s==null&&(l.__s=l.state),b&&U.getDerivedStateFromProps!=null&&(l.__s==l.state&&(l.__s=M({},l.__s)),M(l.__s,U.getDerivedStateFromProps(v,l.__s))),p=l.props,g=l.state,l.__v=t,f)b&&U.getDerivedStateFromProps==null&&l.componentWillMount!=null&&l.componentWillMount(),b&&l.componentDidMount!=null&&l.__h.push(l.componentDidMount);else{if(b&&U.getDerivedStateFromProps==null&&v!==p&&l.componentWillReceiveProps!=null&&l.componentWillReceiveProps(v,h),!l.__e&&(l.shouldComponentUpdate!=null&&l.shouldComponentUpdate(v,l.__s,h)===!1||t.__v===n.__v)){for(t.__v!==n.__v&&(l.props=v,l.state=l.__s,l.__d=!1),t.__e=n.__e,t.__k=n.__k,t.__k.some(function(ee){ee&&(ee.__=t)}),E=0;E<l._sb.length;E++)l.__h.push(l._sb[E]);l._sb=[],l.__h.length&&c.push(l);break e}l.componentWillUpdate!=null&&l.componentWillUpdate(v,l.__s,h),b&&l.componentDidUpdate!=null&&l.__h.push(function(){l.componentDidUpdate(p,g,$)})}if(l.context=h,l.props=v,l.__P=e,l.__e=!1,q=k.__r,R=0,b){for(l.state=l.__s,l.__d=!1,q&&q(t),d=l.render(l.props,l.state,l.context),D=0;D<l._sb.length;D++)l.__h.push(l._sb[D]);l._sb=[]}else do l.__d=!1,q&&q(t),d=l.render(l.props,l.state,l.context),l.state=l.__s;while(l.__d&&++R<25);l.state=l.__s,l.getChildContext!=null&&(s=M(M({},s),l.getChildContext())),b&&!f&&l.getSnapshotBeforeUpdate!=null&&($=l.getSnapshotBeforeUpdate(p,g)),Le(e,me(W=d!=null&&d.type===re&&d.key==null?d.props.children:d)?W:[W],t,n,s,o,a,c,i,r,u),l.base=t.__e,t.__u&=-161,l.__h.length&&c.push(l),w&&(l.__E=l.__=null)}catch(ee){if(t.__v=null,r||a!=null){for(t.__u|=r?160:128;i&&i.nodeType===8&&i.nextSibling;)i=i.nextSibling;a[a.indexOf(i)]=null,t.__e=i}else t.__e=n.__e,t.__k=n.__k;k.__e(ee,t,n)}else a==null&&t.__v===n.__v?(t.__k=n.__k,t.__e=n.__e):t.__e=wt(n.__e,t,n,s,o,a,c,r,u);(d=k.diffed)&&d(t)}function We(e,t,n){t.__d=void 0;for(var s=0;s<n.length;s++)ye(n[s],n[++s],n[++s]);k.__c&&k.__c(t,e),e.some(function(o){try{e=o.__h,o.__h=[],e.some(function(a){a.call(o)})}catch(a){k.__e(a,o.__v)}})}function wt(e,t,n,s,o,a,c,i,r){var u,d,l,f,p,g,$,w=n.props,v=t.props,b=t.type;if(b==="svg"?o="http://www.w3.org/2000/svg":b==="math"?o="http://www.w3.org/1998/Math/MathML":o||(o="http://www.w3.org/1999/xhtml"),a!=null){for(u=0;u<a.length;u++)if((p=a[u])&&"setAttribute"in p==!!b&&(b?p.localName===b:p.nodeType===3)){e=p,a[u]=null;break}}if(e==null){if(b===null)return document.createTextNode(v);e=document.createElementNS(o,b,v.is&&v),i&&(k.__m&&k.__m(t,a),i=!1),a=null}if(b===null)w===v||i&&e.data===v||(e.data=v);else{if(a=a&&ae.call(e.childNodes),w=n.props||J,!i&&a!=null)for(w={},u=0;u<e.attributes.length;u++)w[(p=e.attributes[u]).name]=p.value;for(u in w)if(p=w[u],u!="children"){if(u=="dangerouslySetInnerHTML")l=p;else if(!(u in v)){if(u=="value"&&"defaultValue"in v||u=="checked"&&"defaultChecked"in v)continue;te(e,u,null,p,o)}}for(u in v)p=v[u],u=="children"?f=p:u=="dangerouslySetInnerHTML"?d=p:u=="value"?g=p:u=="checked"?$=p:i&&typeof p!="function"||w[u]===p||te(e,u,p,w[u],o);if(d)i||l&&(d.__html===l.__html||d.__html===e.innerHTML)||(e.innerHTML=d.__html),t.__k=[];else if(l&&(e.innerHTML=""),Le(e,me(f)?f:[f],t,n,s,b==="foreignObject"?"http://www.w3.org/1999/xhtml":o,a,c,a?a[0]:n.__k&&B(n,0),i,r),a!=null)for(u=a.length;u--;)Fe(a[u]);i||(u="value",b==="progress"&&g==null?e.removeAttribute("value"):g!==void 0&&(g!==e[u]||b==="progress"&&!g||b==="option"&&g!==w[u])&&te(e,u,g,w[u],o),u="checked",$!==void 0&&$!==e[u]&&te(e,u,$,w[u],o))}return e}function ye(e,t,n){try{if(typeof e=="function"){var s=typeof e.__u=="function";s&&e.__u(),s&&t==null||(e.__u=e(t))}else e.current=t}catch(o){k.__e(o,n)}}function Be(e,t,n){var s,o;if(k.unmount&&k.unmount(e),(s=e.ref)&&(s.current&&s.current!==e.__e||ye(s,null,t)),(s=e.__c)!=null){if(s.componentWillUnmount)try{s.componentWillUnmount()}catch(a){k.__e(a,t)}s.base=s.__P=null}if(s=e.__k)for(o=0;o<s.length;o++)s[o]&&Be(s[o],t,n||typeof e.type!="function");n||Fe(e.__e),e.__c=e.__=e.__e=e.__d=void 0}function St(e,t,n){return this.constructor(e,n)}function Ke(e,t,n){var s,o,a,c;k.__&&k.__(e,t),o=(s=typeof n=="function")?null:n&&n.__k||t.__k,a=[],c=[],$e(t,e=(!s&&n||t).__k=H(re,null,[e]),o||J,J,t.namespaceURI,!s&&n?[n]:o?null:t.firstChild?ae.call(t.childNodes):null,a,!s&&n?n:o?o.__e:t.firstChild,s,c),We(a,e,c)}ae=He.slice,k={__e:function(e,t,n,s){for(var o,a,c;t=t.__;)if((o=t.__c)&&!o.__)try{if((a=o.constructor)&&a.getDerivedStateFromError!=null&&(o.setState(a.getDerivedStateFromError(e)),c=o.__d),o.componentDidCatch!=null&&(o.componentDidCatch(e,s||{}),c=o.__d),c)return o.__E=o}catch(i){e=i}throw e}},Me=0,yt=function(e){return e!=null&&e.constructor==null},se.prototype.setState=function(e,t){var n;n=this.__s!=null&&this.__s!==this.state?this.__s:this.__s=M({},this.state),typeof e=="function"&&(e=e(M({},n),this.props)),e&&M(n,e),e!=null&&this.__v&&(t&&this._sb.push(t),Ae(this))},se.prototype.forceUpdate=function(e){this.__v&&(this.__e=!0,e&&this.__h.push(e),Ae(this))},se.prototype.render=re,N=[],Ne=typeof Promise=="function"?Promise.prototype.then.bind(Promise.resolve()):setTimeout,pe=function(e,t){return e.__v.__b-t.__v.__b},oe.__r=0,he=0,_e=Re(!1),fe=Re(!0),gt=0;var Y,x,ge,Ve,le=0,et=[],C=k,ze=C.__b,Ge=C.__r,Je=C.diffed,Ye=C.__c,Qe=C.unmount,Xe=C.__;function be(e,t){C.__h&&C.__h(x,e,le||t),le=0;var n=x.__H||(x.__H={__:[],__h:[]});return e>=n.__.length&&n.__.push({}),n.__[e]}function m(e){return le=1,xt(nt,e)}function xt(e,t,n){var s=be(Y++,2);if(s.t=e,!s.__c&&(s.__=[n?n(t):nt(void 0,t),function(i){var r=s.__N?s.__N[0]:s.__[0],u=s.t(r,i);r!==u&&(s.__N=[u,s.__[1]],s.__c.setState({}))}],s.__c=x,!x.u)){var o=function(i,r,u){if(!s.__c.__H)return!0;var d=s.__c.__H.__.filter(function(f){return!!f.__c});if(d.every(function(f){return!f.__N}))return!a||a.call(this,i,r,u);var l=!1;return d.forEach(function(f){if(f.__N){var p=f.__[0];f.__=f.__N,f.__N=void 0,p!==f.__[0]&&(l=!0)}}),!(!l&&s.__c.props===i)&&(!a||a.call(this,i,r,u))};x.u=!0;var a=x.shouldComponentUpdate,c=x.componentWillUpdate;x.componentWillUpdate=function(i,r,u){if(this.__e){var d=a;a=void 0,o(i,r,u),a=d}c&&c.call(this,i,r,u)},x.shouldComponentUpdate=o}return s.__N||s.__}function I(e,t){var n=be(Y++,3);!C.__s&&tt(n.__H,t)&&(n.__=e,n.i=t,x.__H.__h.push(n))}function ke(e){return le=5,Ct(function(){return{current:e}},[])}function Ct(e,t){var n=be(Y++,7);return tt(n.__H,t)&&(n.__=e(),n.__H=t,n.__h=e),n.__}function Et(){for(var e;e=et.shift();)if(e.__P&&e.__H)try{e.__H.__h.forEach(ie),e.__H.__h.forEach(ve),e.__H.__h=[]}catch(t){e.__H.__h=[],C.__e(t,e.__v)}}C.__b=function(e){x=null,ze&&ze(e)},C.__=function(e,t){e&&t.__k&&t.__k.__m&&(e.__m=t.__k.__m),Xe&&Xe(e,t)},C.__r=function(e){Ge&&Ge(e),Y=0;var t=(x=e.__c).__H;t&&(ge===x?(t.__h=[],x.__h=[],t.__.forEach(function(n){n.__N&&(n.__=n.__N),n.i=n.__N=void 0})):(t.__h.forEach(ie),t.__h.forEach(ve),t.__h=[],Y=0)),ge=x},C.diffed=function(e){Je&&Je(e);var t=e.__c;t&&t.__H&&(t.__H.__h.length&&(et.push(t)!==1&&Ve===C.requestAnimationFrame||((Ve=C.requestAnimationFrame)||It)(Et)),t.__H.__.forEach(function(n){n.i&&(n.__H=n.i),n.i=void 0})),ge=x=null},C.__c=function(e,t){t.some(function(n){try{n.__h.forEach(ie),n.__h=n.__h.filter(function(s){return!s.__||ve(s)})}catch(s){t.some(function(o){o.__h&&(o.__h=[])}),t=[],C.__e(s,n.__v)}}),Ye&&Ye(e,t)},C.unmount=function(e){Qe&&Qe(e);var t,n=e.__c;n&&n.__H&&(n.__H.__.forEach(function(s){try{ie(s)}catch(o){t=o}}),n.__H=void 0,t&&C.__e(t,n.__v))};var Ze=typeof requestAnimationFrame=="function";function It(e){var t,n=function(){clearTimeout(s),Ze&&cancelAnimationFrame(t),setTimeout(e)},s=setTimeout(n,100);Ze&&(t=requestAnimationFrame(n))}function ie(e){var t=x,n=e.__c;typeof n=="function"&&(e.__c=void 0,n()),x=t}function ve(e){var t=x;e.__c=e.__(),x=t}function tt(e,t){return!e||e.length!==t.length||t.some(function(n,s){return n!==e[s]})}function nt(e,t){return typeof t=="function"?t(e):t}var ot=function(e,t,n,s){var o;t[0]=0;for(var a=1;a<t.length;a++){var c=t[a++],i=t[a]?(t[0]|=c?1:2,n[t[a++]]):t[++a];c===3?s[0]=i:c===4?s[1]=Object.assign(s[1]||{},i):c===5?(s[1]=s[1]||{})[t[++a]]=i:c===6?s[1][t[++a]]+=i+"":c?(o=e.apply(i,ot(e,i,n,["",null])),s.push(o),i[0]?t[0]|=2:(t[a-2]=0,t[a]=o)):s.push(i)}return s},st=new Map;function K(e){var t=st.get(this);return t||(t=new Map,st.set(this,t)),(t=ot(this,t.get(e)||(t.set(e,t=function(n){for(var s,o,a=1,c="",i="",r=[0],u=function(f){a===1&&(f||(c=c.replace(/^\s*\n\s*|\s*\n\s*$/g,"")))?r.push(0,f,c):a===3&&(f||c)?(r.push(3,f,c),a=2):a===2&&c==="..."&&f?r.push(4,f,0):a===2&&c&&!f?r.push(5,0,!0,c):a>=5&&((c||!f&&a===5)&&(r.push(a,0,c,o),a=6),f&&(r.push(a,f,0,o),a=6)),c=""},d=0;d<n.length;d++){d&&(a===1&&u(),u(d));for(var l=0;l<n[d].length;l++)s=n[d][l],a===1?s==="<"?(u(),r=[r],a=3):c+=s:a===4?c==="--"&&s===">"?(a=1,c=""):c=s+c[0]:i?s===i?i="":c+=s:s==='"'||s==="'"?i=s:s===">"?(u(),a=1):a&&(s==="="?(a=5,o=c,c=""):s==="/"&&(a<5||n[d][l+1]===">")?(u(),a===3&&(r=r[0]),a=r,(r=r[0]).push(2,0,a),a=0):s===" "||s==="	"||s===`
`||s==="\r"?(u(),a=2):c+=s),a===3&&c==="!--"&&(a=4,r=r[0])}return u(),r}(e)),t),arguments,[])).length>1?t:t[0]}var Se="/api/v1",Q="roo.console.refresh",F=null,ce=null,we=()=>{},V=class extends Error{constructor(t,n){super(n?.detail||n?.title||`HTTP ${t}`),this.status=t,this.problem=n||{}}};function at(e){we=e}function rt(){return F!==null}function xe(){return sessionStorage.getItem(Q)!==null}function it(e){return F=e.token,sessionStorage.setItem(Q,e.refreshToken),e.user}function Ce(){F=null,sessionStorage.removeItem(Q)}async function Ee(e){try{return await e.json()}catch{return{title:e.statusText}}}function lt(){let e=new URLSearchParams(location.hash.slice(1)),t=e.get("token"),n=e.get("refreshToken");return!t||!n?!1:(F=t,sessionStorage.setItem(Q,n),history.replaceState(null,"",location.pathname+location.search),!0)}async function ct(e,t){let n=await fetch(`${Se}/auth/login`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({email:e,password:t})});if(!n.ok)throw new V(n.status,await Ee(n));return it(await n.json())}function X(){return ce||(ce=(async()=>{let e=sessionStorage.getItem(Q);if(!e)throw new V(401,{title:"Not signed in"});let t=await fetch(`${Se}/auth/refresh`,{method:"POST",headers:{"Content-Type":"application/json"},body:JSON.stringify({refreshToken:e})});if(!t.ok)throw Ce(),new V(t.status,await Ee(t));return it(await t.json())})().finally(()=>{ce=null})),ce}async function ut(){try{F&&await T("POST","/auth/logout",void 0,{retry:!1})}catch{}finally{Ce()}}async function T(e,t,n,s={}){let{raw:o=!1,headers:a={},retry:c=!0}=s,i={method:e,headers:{...a}};F&&(i.headers.Authorization=`Bearer ${F}`),n!==void 0&&(typeof n=="string"||n instanceof Blob||n instanceof ArrayBuffer?i.body=n:(i.body=JSON.stringify(n),i.headers["Content-Type"]="application/json"));let r=await fetch(Se+t,i);if(r.status===401&&c&&xe()){try{await X()}catch(u){throw we(),u}return T(e,t,n,{...s,retry:!1})}if(r.status===401&&(Ce(),we()),!r.ok&&r.status!==304)throw new V(r.status,await Ee(r));return o?r:r.status===204?null:r.json()}var P=e=>T("GET",e),O=(e,t)=>T("POST",e,t),L=(e,t)=>T("PUT",e,t),z=e=>T("DELETE",e);var Pt=new Set([1e3,1001,1005,1006,1011,1012,4408]),ue=class{constructor(t,{onEvent:n,onHello:s,onStatus:o}){this.sessionId=t,this.onEvent=n,this.onHello=s,this.onStatus=o,this.lastSeq=0,this.socket=null,this.closed=!1,this.delay=500,this.pending=new Map,this.nextId=1,this.connects=0}async open(){if(this.closed)return;this.onStatus("connecting");let t;try{({ticket:t}=await O(`/sessions/${this.sessionId}/ws-ticket`))}catch(a){if(a.status===404||a.status===401||a.status===403){this.onStatus("closed");return}this.retry();return}if(this.closed)return;let s=`${location.protocol==="https:"?"wss":"ws"}://${location.host}/api/v1/sessions/${this.sessionId}/ws?ticket=${encodeURIComponent(t)}&lastSeq=${this.lastSeq}`,o=new WebSocket(s);this.socket=o,o.onmessage=a=>this.receive(JSON.parse(a.data)),o.onclose=a=>this.dropped(o,a.code)}receive(t){if(t.seq!==void 0){if(t.seq<=this.lastSeq)return;this.lastSeq=t.seq,this.onEvent(t);return}if(t.type==="hello")this.connects+=1,this.delay=500,this.onStatus("live"),this.onHello(t);else if((t.type==="ack"||t.type==="error")&&this.pending.has(t.id)){let{resolve:n,reject:s}=this.pending.get(t.id);this.pending.delete(t.id),t.type==="ack"?n(t.task):s(Object.assign(new Error(t.problem?.detail||t.problem?.title),t.problem))}}async dropped(t,n){if(t===this.socket){this.socket=null;for(let{reject:s}of this.pending.values())s(new Error("connection lost"));if(this.pending.clear(),!this.closed)if(n===4401){try{await X()}catch{this.onStatus("closed");return}this.retry()}else Pt.has(n)?this.retry():this.onStatus("closed")}}retry(){this.onStatus("reconnecting");let t=this.delay*(.75+Math.random()/2);this.delay=Math.min(this.delay*2,1e4),setTimeout(()=>this.open(),t)}send(t){if(!this.socket||this.socket.readyState!==WebSocket.OPEN)return Promise.reject(new Error("not connected: try again in a moment"));let n=`c${this.nextId++}`;return new Promise((s,o)=>{this.pending.set(n,{resolve:s,reject:o}),this.socket.send(JSON.stringify({...t,id:n}))})}close(){this.closed=!0,this.socket&&this.socket.close(1e3),this.socket=null}};function Ie(e){if(Array.isArray(e))return e;let t=[];for(let n of String(e||"").split(`
`)){let s=n.match(/^\s*(?:[-*]\s*)?\[( |x|X|-|~)\]\s*(.*)$/);s&&t.push({status:s[1]===" "?"pending":s[1]==="-"||s[1]==="~"?"in_progress":"completed",content:s[2]})}return t}function Te(){return{items:[],calls:new Map,asks:new Map,tasks:new Map,count:0,lastSeq:0}}function qt(e,t){return e.tasks.has(t)||e.tasks.set(t,{id:t,state:"queued",todos:[],usage:null}),e.tasks.get(t)}function dt(e,t){let n=t.data||{},s=e.items,o=s[s.length-1];e.count+=1,e.lastSeq=t.seq;let a=t.taskId?qt(e,t.taskId):null;switch(t.event){case"task.created":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Task started: ${n.mode||""} ${n.model||""}`.trim()}),n.mode&&(a.mode=n.mode);break;case"task.state":a.state=n.to;break;case"message":o&&o.type==="text"&&o.kind===n.kind&&o.taskId===t.taskId?o.text+=n.delta:s.push({type:"text",seq:t.seq,taskId:t.taskId,kind:n.kind,text:n.delta});break;case"tool.execution":if(n.phase==="start"){let c={type:"tool",seq:t.seq,taskId:t.taskId,callId:n.callId,tool:n.tool,params:n.params||{},output:"",end:null};e.calls.set(n.callId,c),s.push(c)}else{let c=e.calls.get(n.callId);if(!c)break;n.phase==="output"?c.output+=n.output||"":n.phase==="end"&&(c.end=n)}break;case"approval.required":{let c={type:"ask",seq:t.seq,taskId:t.taskId,...n,resolved:null};e.asks.set(n.approvalId,c),s.push(c);break}case"approval.resolved":{let c=e.asks.get(n.approvalId);c&&(c.resolved=n);break}case"task.todos":a.todos=Ie(n.todos);break;case"task.progress":a.usage=n;break;case"task.mode":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Mode: ${n.from||"?"} \u2192 ${n.to||n.mode||"?"}`});break;case"task.complete":s.push({type:"complete",seq:t.seq,taskId:t.taskId,result:n.result||"",usage:n.usage});break;case"task.cancelled":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:`Cancelled${n.reason?`: ${n.reason}`:""}`});break;case"task.interrupted":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`Interrupted: ${n.message||n.reason||""}`});break;case"error.occurred":s.push({type:"error",seq:t.seq,taskId:t.taskId,text:`${n.reason||"error"}: ${n.message||""}`});break;case"task.delegated":s.push({type:"note",seq:t.seq,taskId:t.taskId,text:"Subtask started"});break;default:break}}var A=K.bind(H),Z=e=>e.split("/").map(encodeURIComponent).join("/");function pt({sessionId:e}){let t=`/sessions/${e}/files`,[n,s]=m([]),[o,a]=m(null),[c,i]=m(""),[r,u]=m(!1),[d,l]=m(null),[f,p]=m(null),g=()=>T("GET",`${t}?recursive=true&limit=2000`).then(y=>s(y.entries),p);I(()=>{g()},[e]);async function $(y){p(null),l(null),u(!1);try{let h=await T("GET",`${t}/${Z(y)}?format=json`);a(h),i(h.encoding==="utf-8"?h.text:"")}catch(h){p(h)}}async function w(y){y.preventDefault(),p(null),l(null);try{let E=await(await T("PUT",`${t}/${Z(o.path)}`,new Blob([c]),{raw:!0,headers:{"Content-Type":"application/octet-stream","If-Match":o.etag}})).json();a({...o,etag:E.etag,text:c,size:E.size}),u(!1),l("Saved."),g()}catch(h){h.status===412?u(!0):p(h)}}async function v(y){let h=y.target.files[0];if(!h)return;let E=o&&o.path.includes("/")?o.path.slice(0,o.path.lastIndexOf("/")+1):"";p(null),l(null);try{await T("POST",`${t}/${Z(E+h.name)}`,h,{headers:{"Content-Type":"application/octet-stream"}}),await g(),await $(E+h.name),l(`Uploaded ${E+h.name}.`)}catch(q){p(q)}finally{y.target.value=""}}async function b(){if(confirm(`Delete ${o.path}?`))try{await T("DELETE",`${t}/${Z(o.path)}`),a(null),g()}catch(y){p(y)}}return A`<section class="files">
    <nav class="tree" aria-label="Workspace files">
      <div class="row">
        <button class="link" onClick=${g}>↻ Refresh</button>
        <label class="upload">Upload <input type="file" aria-label="Upload a file" onChange=${v} /></label>
      </div>
      <ul>
        ${n.map(y=>A`<li key=${y.path} class=${`depth-${Math.min(y.path.split("/").length-1,6)}`}>
            ${y.type==="file"?A`<button class="link file" data-path=${y.path} onClick=${()=>$(y.path)}>${y.name}</button>`:A`<span class="dir">${y.name}${y.type==="dir"?"/":""}</span>`}
          </li>`)}
      </ul>
    </nav>
    <div class="editor">
      ${o?A`<form onSubmit=${w}>
            <div class="row"><code data-open-path=${o.path}>${o.path}</code><span class="muted">${o.size} bytes</span>
              <span class="spacer"></span>
              <a href="#" class="link" onClick=${y=>(y.preventDefault(),At(t,o.path))}>Download</a>
              <button type="button" class="deny" onClick=${b}>Delete</button>
              <button type="submit" disabled=${o.encoding!=="utf-8"}>Save</button>
            </div>
            ${r?A`<div class="conflict" role="alert">
                  This file changed since you opened it; your edit was not saved.
                  <button type="button" onClick=${()=>$(o.path)}>Load their version (drops yours)</button>
                </div>`:null}
            ${d?A`<p class="good" role="status">${d}</p>`:null}
            ${o.encoding==="utf-8"?A`<textarea class="code" spellcheck="false" aria-label="File content" value=${c} onInput=${y=>i(y.target.value)}></textarea>`:A`<p class="muted">A binary file: download it.</p>`}
          </form>`:A`<p class="muted">Pick a file.</p>`}
      <${Dt} error=${f} />
    </div>
  </section>`}function Dt({error:e}){return e?A`<p class="error" role="alert">${e.message}</p>`:null}async function At(e,t){let n=await T("GET",`${e}/${Z(t)}`,void 0,{raw:!0}),s=URL.createObjectURL(await n.blob()),o=document.createElement("a");o.href=s,o.download=t.split("/").pop(),o.click(),setTimeout(()=>URL.revokeObjectURL(s),1e3)}var S=K.bind(H),_t=["viewer","member","admin"],Ut=["anthropic","openai"],de=e=>e?new Date(e).toLocaleString():"\u2014";function G({error:e}){return e?S`<p class="error" role="alert">${e.message}</p>`:null}function Rt({permissions:e}){let[t,n]=m([]),[s,o]=m(null),[a,c]=m(!1),[i,r]=m(null),u=()=>P("/auth/api-keys").then(n,r);I(()=>{u()},[]);async function d(p){p.preventDefault();let g=new FormData(p.target),$={name:g.get("name"),scopes:g.getAll("scope")};g.get("expires")&&($.expiresAt=new Date(`${g.get("expires")}T23:59:59Z`).toISOString()),r(null);try{o(await O("/auth/api-keys",$)),c(!1),p.target.reset(),u()}catch(w){r(w)}}async function l(p){if(confirm(`Revoke the key "${p.name}"? Programs using it stop working.`))try{await z(`/auth/api-keys/${p.id}`),u()}catch(g){r(g)}}async function f(){try{await navigator.clipboard.writeText(s.key),c(!0)}catch{c(!1)}}return S`<section aria-labelledby="keys-title">
    <h2 id="keys-title">API keys</h2>
    ${s?S`<div class="created-key" role="status">
          <p>The key <strong>${s.name}</strong>: copy it now, it is not shown again.</p>
          <div class="row"><code class="secret" data-secret>${s.key}</code>
            <button type="button" onClick=${f}>${a?"Copied":"Copy"}</button>
            <button type="button" onClick=${()=>o(null)}>Done</button></div>
        </div>`:null}
    <table class="table">
      <thead><tr><th>Name</th><th>Key</th><th>Scopes</th><th>Created</th><th>Last used</th><th>Expires</th><th></th></tr></thead>
      <tbody>
        ${t.map(p=>S`<tr key=${p.id} data-key=${p.name} class=${p.revokedAt?"revoked":""}>
            <td>${p.name}</td><td><code>${p.prefix}…</code></td><td>${p.scopes.join(", ")}</td>
            <td>${de(p.createdAt)}</td><td>${de(p.lastUsedAt)}</td><td>${de(p.expiresAt)}</td>
            <td>${p.revokedAt?S`<span class="muted">revoked</span>`:S`<button class="deny" onClick=${()=>l(p)} aria-label=${`Revoke ${p.name}`}>Revoke</button>`}</td>
          </tr>`)}
      </tbody>
    </table>
    <form class="newkey" onSubmit=${d} aria-label="Create an API key">
      <label>Name <input name="name" required maxlength="100" /></label>
      <fieldset><legend>Scopes</legend>
        ${e.map(p=>S`<label class="check"><input type="checkbox" name="scope" value=${p} checked=${p.endsWith(":read")} /> ${p}</label>`)}
      </fieldset>
      <label>Expires (optional) <input name="expires" type="date" /></label>
      <button type="submit">Create key</button>
    </form>
    <${G} error=${i} />
  </section>`}function Mt({me:e}){let[t,n]=m([]),[s,o]=m(null),a=()=>P("/users?limit=200").then(i=>n(i.items),o);I(()=>{a()},[]);async function c(i,r){o(null);try{await T("PATCH",`/users/${i.id}`,r)}catch(u){o(u)}a()}return S`<section aria-labelledby="users-title">
    <h2 id="users-title">Users</h2>
    <table class="table">
      <thead><tr><th>Email</th><th>Role</th><th>Disabled</th><th>Last sign-in</th></tr></thead>
      <tbody>
        ${t.map(i=>S`<tr key=${i.id} data-user-row=${i.email}>
            <td>${i.email}</td>
            <td><select aria-label=${`Role of ${i.email}`} value=${_t.filter(r=>i.roles.includes(r)).pop()||"viewer"}
                 disabled=${i.id===e.userId} onChange=${r=>c(i,{roles:[r.target.value]})}>
              ${_t.map(r=>S`<option value=${r}>${r}</option>`)}</select></td>
            <td><input type="checkbox" aria-label=${`Disable ${i.email}`} checked=${i.disabled} disabled=${i.id===e.userId}
                 onChange=${r=>c(i,{disabled:r.target.checked})} /></td>
            <td>${de(i.lastLoginAt)}</td>
          </tr>`)}
      </tbody>
    </table>
    <${G} error=${s} />
  </section>`}function Nt(){let[e,t]=m(null),[n,s]=m(null),[o,a]=m(null);I(()=>{P("/auth/profile").then(t,a)},[]);async function c(r){r.preventDefault(),a(null);try{t(await L("/auth/profile",{displayName:new FormData(r.target).get("displayName")})),s("Profile saved.")}catch(u){a(u)}}async function i(r){r.preventDefault();let u=new FormData(r.target);a(null);try{await L("/auth/password",{currentPassword:u.get("current"),newPassword:u.get("new"),revokeApiKeys:u.get("revoke")==="on"}),r.target.reset(),s("Password changed: sign in again."),setTimeout(()=>location.reload(),1500)}catch(d){a(d)}}return e?S`<section aria-labelledby="profile-title">
    <h2 id="profile-title">Profile</h2>
    <form class="row" onSubmit=${c} aria-label="Profile">
      <label>Display name <input name="displayName" value=${e.displayName} maxlength="100" /></label>
      <button type="submit">Save profile</button>
    </form>
    ${e.provider==="local"?S`<form class="row" onSubmit=${i} aria-label="Change password">
          <label>Current password <input name="current" type="password" autocomplete="current-password" required /></label>
          <label>New password <input name="new" type="password" autocomplete="new-password" minlength="12" required /></label>
          <label class="check"><input name="revoke" type="checkbox" checked /> revoke my API keys</label>
          <button type="submit">Change password</button>
        </form>`:null}
    ${n?S`<p class="good" role="status">${n}</p>`:null}
    <${G} error=${o} />
  </section>`:S`<${G} error=${o} />`}function Ht(){let[e,t]=m([]),[n,s]=m(null),o=()=>P("/auth/providers").then(t,s);I(()=>{o()},[]);async function a(i,r){i.preventDefault();let u=new FormData(i.target),d={};if(u.get("apiKey")&&(d.apiKey=u.get("apiKey")),u.get("baseUrl")&&(d.baseUrl=u.get("baseUrl")),!!Object.keys(d).length){s(null);try{await L(`/auth/providers/${r}`,d),i.target.reset(),o()}catch(l){s(l)}}}async function c(i){try{await z(`/auth/providers/${i}`),o()}catch(r){s(r)}}return S`<section aria-labelledby="providers-title">
    <h2 id="providers-title">Model provider keys</h2>
    <p class="muted">Your own keys for the agent's model requests; without one, the service's are used. A key is never shown again.</p>
    ${Ut.map(i=>{let r=e.find(u=>u.provider===i);return S`<form class="row provider" key=${i} data-provider=${i} onSubmit=${u=>a(u,i)} aria-label=${`${i} key`}>
        <strong>${i}</strong>
        <span class="muted">${r?`${r.hasApiKey?`key ${r.keyHint||"stored"}`:"no key"}${r.baseUrl?` \xB7 ${r.baseUrl}`:""}`:"not set"}</span>
        <input name="apiKey" type="password" autocomplete="off" placeholder="API key" aria-label=${`${i} API key`} />
        <input name="baseUrl" type="url" placeholder="Base URL (optional)" aria-label=${`${i} base URL`} />
        <button type="submit">Save</button>
        ${r?S`<button type="button" class="deny" onClick=${()=>c(i)}>Remove</button>`:null}
      </form>`})}
    <${G} error=${n} />
  </section>`}function ft(){let[e,t]=m(null),[n,s]=m(null);return I(()=>{P("/auth/whoami").then(t,s)},[]),e?S`<section class="session account">
    <h1>Account</h1>
    <p><strong>${e.email}</strong> <span class="muted">· ${e.roles.join(", ")}</span></p>
    <${Nt} />
    ${e.permissions.includes("profile:write")?S`<${Ht} />`:null}
    ${e.permissions.includes("apikeys:manage")?S`<${Rt} permissions=${e.permissions} />`:null}
    ${e.permissions.includes("users:admin")?S`<${Mt} me=${e} />`:null}
  </section>`:S`<section class="session"><${G} error=${n} /></section>`}var _=K.bind(H),Pe=200,qe=new Set(["queued","running","awaiting_approval","awaiting_input"]);function ht(){if(location.hash==="#/account")return{sessionId:null,tab:"account"};let[,e,t]=location.hash.match(/^#\/s\/([0-9a-f-]+)(?:\/(files))?/)||[];return{sessionId:e||null,tab:t||"task"}}function Ft(){let[e,t]=m(ht());return I(()=>{let n=()=>t(ht());return window.addEventListener("hashchange",n),()=>window.removeEventListener("hashchange",n)},[]),e}function j({error:e}){return e?_`<p class="error" role="alert">${e.message||String(e)}</p>`:null}function Ot({onSignedIn:e}){let[t,n]=m(null),[s,o]=m(!1),[a,c]=m([]);I(()=>{P("/auth/oauth/providers").then(r=>c(r.providers),()=>c([]))},[]);async function i(r){r.preventDefault();let u=new FormData(r.target);o(!0),n(null);try{e(await ct(u.get("email"),u.get("password")))}catch(d){n(d)}finally{o(!1)}}return _`<main class="signin">
    <form onSubmit=${i} aria-label="Sign in">
      <h1>roo console</h1>
      <label>Email <input name="email" type="email" autocomplete="username" required /></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
      <button type="submit" disabled=${s}>Sign in</button>
      ${a.map(r=>_`<a class="button" href=${`/api/v1/auth/oauth/${encodeURIComponent(r.name)}/authorize`}>Sign in with ${r.displayName}</a>`)}
      <${j} error=${t} />
    </form>
  </main>`}function Lt({current:e,onChange:t,version:n}){let[s,o]=m([]),[a,c]=m(null),i=()=>P("/sessions?limit=100").then(d=>o(d.items),c);I(()=>{i()},[n]);async function r(d){d.preventDefault();let l=new FormData(d.target).get("name").trim();try{let f=await O("/sessions",l?{name:l}:{});d.target.reset(),await i(),location.hash=`#/s/${f.id}`}catch(f){c(f)}}async function u(d){if(confirm(`Delete session "${d.name}" and its workspace?`))try{await z(`/sessions/${d.id}`),e===d.id&&(location.hash="#/"),await i(),t()}catch(l){c(l)}}return _`<nav class="sessions" aria-label="Sessions">
    <form onSubmit=${r} class="row">
      <input name="name" placeholder="New session name" aria-label="New session name" maxlength="200" />
      <button type="submit">Create</button>
    </form>
    <${j} error=${a} />
    <ul>
      ${s.map(d=>_`<li key=${d.id} class=${d.id===e?"current":""}>
          <a href=${`#/s/${d.id}`}>${d.name}</a>
          <span class="muted">${d.state}</span>
          <button class="icon" title="Delete session" aria-label=${`Delete ${d.name}`} onClick=${()=>u(d)}>✕</button>
        </li>`)}
    </ul>
  </nav>`}function $t({params:e}){let t=Object.entries(e||{});return _`<dl class="params">
    ${t.map(([n,s])=>_`<dt>${n}</dt><dd><pre>${typeof s=="string"?s:JSON.stringify(s,null,2)}</pre></dd>`)}
  </dl>`}function jt({diff:e,truncated:t}){if(e==null)return _`<p class="muted">The change is too large to show.</p>`;let n=s=>s.startsWith("+++")||s.startsWith("---")?"file":s[0]==="+"?"add":s[0]==="-"?"del":s[0]==="@"?"hunk":"";return _`<pre class="diff">${e.replace(/\n$/,"").split(`
`).map(s=>_`<span class=${n(s)}>${s}</span>`)}</pre>
    ${t?_`<p class="muted">(diff cut)</p>`:null}`}function Wt({ask:e,act:t}){let[n,s]=m(""),[o,a]=m(null),c=(i,r)=>t(e.taskId,{action:i,approvalId:e.approvalId,...r?{text:r,feedback:r}:{}}).catch(a);return e.resolved?_`<div class="ask resolved" data-approval=${e.approvalId}>
      <strong>${e.kind==="followup"?"Question":"Approval"}</strong> ${e.text||e.tool}
      <span class="muted"> — ${e.resolved.action}${e.resolved.text?`: ${e.resolved.text}`:""}</span>
    </div>`:e.kind==="followup"?_`<div class="ask open" data-approval=${e.approvalId}>
      <p><strong>Question:</strong> ${e.text}</p>
      <div class="row">
        ${(e.suggestions||[]).map(i=>{let r=typeof i=="string"?i:i.text||i.answer;return _`<button class="suggestion" onClick=${()=>c("answer",r)}>${r}</button>`})}
      </div>
      <form class="row" onSubmit=${i=>(i.preventDefault(),c("answer",n))}>
        <input value=${n} onInput=${i=>s(i.target.value)} placeholder="Your answer" aria-label="Your answer" />
        <button type="submit">Answer</button>
      </form>
      <${j} error=${o} />
    </div>`:_`<div class="ask open" data-approval=${e.approvalId}>
    <p><strong>Approve ${e.tool||e.kind}?</strong></p>
    ${e.kind==="command"?_`<pre class="command">${e.text}</pre>`:_`<${$t} params=${e.params} />`}
    <div class="row">
      <button class="approve" onClick=${()=>c("approve",n)}>Approve</button>
      <button onClick=${()=>c("approve_always",n)}>Always</button>
      <input value=${n} onInput=${i=>s(i.target.value)} placeholder="Feedback (optional)" aria-label="Feedback" />
      <button class="deny" onClick=${()=>c("deny",n)}>Deny</button>
    </div>
    <${j} error=${o} />
  </div>`}function Bt({item:e,act:t}){switch(e.type){case"text":return e.kind==="reasoning"?_`<details class="reasoning"><summary>Reasoning</summary><p>${e.text}</p></details>`:_`<p class="assistant">${e.text}</p>`;case"tool":return _`<div class="tool" data-call=${e.callId}>
        <div class="tool-head"><code>${e.tool}</code>
          ${e.end?_`<span class=${e.end.isError?"bad":"good"}>${e.end.isError?"failed":"done"} (${e.end.durationMs} ms)</span>`:_`<span class="muted">running…</span>`}
        </div>
        ${e.tool==="execute_command"?_`<pre class="command">$ ${e.params.command}</pre>`:_`<details><summary>parameters</summary><${$t} params=${e.params} /></details>`}
        ${e.output?_`<pre class="output">${e.output}</pre>`:null}
        ${e.end&&e.end.data&&"diff"in e.end.data?_`<${jt} diff=${e.end.data.diff} truncated=${e.end.data.diffTruncated} />`:null}
      </div>`;case"ask":return _`<${Wt} ask=${e} act=${t} />`;case"complete":return _`<div class="complete"><strong>Completed</strong><p>${e.result}</p></div>`;case"error":return _`<p class="error">${e.text}</p>`;default:return _`<p class="note muted">${e.text}</p>`}}function Kt({sessionId:e,disabled:t,onError:n}){let[s,o]=m([]),[a,c]=m("");I(()=>{P(`/sessions/${e}/modes`).then(r=>(o(r.modes||r.items||[]),c(r.defaultMode||"")),()=>o([]))},[e]);async function i(r){r.preventDefault();let u=new FormData(r.target),d={};u.get("mode")&&(d.mode=u.get("mode")),u.get("model").trim()&&(d.model=u.get("model").trim());try{await O(`/sessions/${e}/tasks`,{input:u.get("input"),config:d}),r.target.reset()}catch(l){n(l)}}return _`<form class="newtask" onSubmit=${i} aria-label="Start a task">
    <textarea name="input" required maxlength="10000" rows="3" placeholder="What should the agent do?" aria-label="What should the agent do?"></textarea>
    <div class="row">
      <label>Mode <select name="mode" aria-label="Mode" value=${a} onChange=${r=>c(r.target.value)}>${s.map(r=>_`<option value=${r.slug}>${r.name}</option>`)}</select></label>
      <label>Model <input name="model" placeholder="default" /></label>
      <button type="submit" disabled=${t}>Start task</button>
    </div>
  </form>`}function Vt({sessionId:e}){let[,t]=m(0),[n,s]=m("connecting"),[o,a]=m(null),c=ke(null),i=ke(null),[r,u]=m(""),[d,l]=m(Pe);I(()=>{c.current=Te();let h=0,E=()=>{h||(h=requestAnimationFrame(()=>(h=0,t(R=>R+1))))},q=new ue(e,{onEvent:R=>(dt(c.current,R),E()),onHello:R=>{for(let D of R.state?.tasks||[]){let W=c.current.tasks.get(D.id)||{id:D.id,todos:[]};c.current.tasks.set(D.id,{...W,state:D.state,todos:D.todos?Ie(D.todos):W.todos})}E()},onStatus:s});return i.current=q,q.open(),()=>(q.close(),h&&cancelAnimationFrame(h))},[e]);let f=c.current||Te(),p=[...f.tasks.values()],g=p.filter(h=>qe.has(h.state)),$=g[g.length-1]||p[p.length-1],w=(h,E)=>L(`/sessions/${e}/tasks/${h}`,E),v=()=>z(`/sessions/${e}/tasks/${$.id}`).catch(a);async function b(h){h.preventDefault();try{await w($.id,{action:"message",text:r}),u("")}catch(E){a(E)}}let y=$?.usage?.usage||$?.usage?.taskUsage||null;return _`<section class="taskpanel">
    <div class="status row">
      <span class=${`dot ${n}`} data-status=${n}>${n}</span>
      ${$?_`<span>task <code>${$.id.slice(0,8)}</code>: <strong data-task-state=${$.state}>${$.state}</strong></span>`:null}
      ${y?_`<span class="muted">${y.inputTokens??y.input_tokens??0} in / ${y.outputTokens??y.output_tokens??0} out${y.cost!=null?` \xB7 $${Number(y.cost).toFixed(4)}`:""}</span>`:null}
      ${$&&qe.has($.state)?_`<button class="deny" onClick=${v}>Cancel task</button>`:null}
    </div>
    ${$?.todos?.length?_`<ul class="todos" aria-label="Todo list">${$.todos.map(h=>_`<li class=${h.status} data-todo=${h.status}>${h.content}</li>`)}</ul>`:null}
    <div class="timeline" aria-live="polite" data-event-count=${f.count} data-last-seq=${f.lastSeq}>
      ${f.items.length>d?_`<button class="link" onClick=${()=>l(d+Pe)}>Show ${Math.min(Pe,f.items.length-d)} earlier of ${f.items.length-d}</button>`:null}
      ${f.items.slice(-d).map(h=>_`<${Bt} key=${h.seq} item=${h} act=${w} />`)}
    </div>
    <${j} error=${o} />
    ${$&&$.state!=="queued"&&(qe.has($.state)||$.state==="completed")?_`<form class="row" onSubmit=${b}><input value=${r} onInput=${h=>u(h.target.value)} placeholder="Message the agent" aria-label="Message" required /><button type="submit">Send</button></form>`:null}
    ${$&&["failed","interrupted","cancelled"].includes($.state)?_`<button onClick=${()=>w($.id,{action:"resume"}).catch(a)}>Resume</button>`:null}
    <${Kt} sessionId=${e} disabled=${g.length>0} onError=${a} />
  </section>`}var mt=e=>`${(e/1048576).toFixed(1)} MiB`;function zt({sessionId:e,onChange:t}){let[n,s]=m(null),[o,a]=m(null),[c,i]=m(null),r=()=>{P(`/sessions/${e}`).then(s,i),P(`/sessions/${e}/resources`).then(a,()=>a(null))};I(r,[e]);async function u(l){try{s(await L(`/sessions/${e}`,{state:l})),t()}catch(f){i(f)}}if(!n)return _`<${j} error=${c} />`;let d=n.state==="archived";return _`<div class="sessionhead row">
    <h1>${n.name}</h1>
    <span class="muted" data-session-state=${n.state}>${n.state}</span>
    ${o?_`<span class="muted" data-resources>disk ${mt(o.disk.usedBytes)} of ${mt(o.disk.limitBytes)} · ${o.disk.usedFiles} of ${o.disk.limitFiles} files · ${o.runningTasks} task(s) active</span>`:null}
    <span class="spacer"></span>
    <button class="link" onClick=${r} aria-label="Refresh the session" title="Refresh">↻</button>
    ${d?_`<button onClick=${()=>u("active")}>Restore</button>`:_`<button onClick=${()=>u("archived")}>Archive</button>`}
    <${j} error=${c} />
  </div>`}function Gt({sessionId:e,tab:t,onChange:n}){return _`<section class="session">
    <${zt} sessionId=${e} onChange=${n} />
    <div class="tabs" role="tablist">
      <a role="tab" aria-selected=${t==="task"} href=${`#/s/${e}`}>Tasks</a>
      <a role="tab" aria-selected=${t==="files"} href=${`#/s/${e}/files`}>Files</a>
    </div>
    ${t==="files"?_`<${pt} sessionId=${e} />`:_`<${Vt} sessionId=${e} />`}
  </section>`}function Jt(){let[e,t]=m(null),[n,s]=m(()=>lt()||xe()),[o,a]=m(0),{sessionId:c,tab:i}=Ft();if(I(()=>{at(()=>t(null)),n&&(rt()?P("/auth/profile"):X()).then(t,()=>t(null)).finally(()=>s(!1))},[]),n)return _`<p class="muted">Signing in…</p>`;if(!e)return _`<${Ot} onSignedIn=${t} />`;async function r(){await ut(),location.hash="#/",t(null)}return _`<div class="shell">
    <header class="row">
      <strong>roo console</strong>
      <span class="spacer"></span>
      <a href="#/account" class="muted" data-user>${e.email}</a>
      <button onClick=${r}>Sign out</button>
    </header>
    <div class="main">
      <${Lt} current=${c} version=${o} onChange=${()=>a(u=>u+1)} />
      ${i==="account"?_`<${ft} />`:c?_`<${Gt} key=${c} sessionId=${c} tab=${i} onChange=${()=>a(u=>u+1)} />`:_`<p class="muted empty">Pick or create a session.</p>`}
    </div>
  </div>`}Ke(_`<${Jt} />`,document.getElementById("app"));export{j as ErrorLine};
